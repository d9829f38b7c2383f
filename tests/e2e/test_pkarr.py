"""Signed keys under /pk/ (pkarr relay records), black-box: the real binary on port 0.

Records are signed as a pkarr client would: ed25519 over `3:seqi<timestamp>e1:v<len>:<v>`, with
PyNaCl. PyNaCl is installed for the system interpreter (Debian: python3-nacl), which may not be
the one running these tests, so signing runs in /usr/bin/python3 (or RDV_SIGNING_PYTHON) through
a subprocess. Without it the tests fail: a relay that is never exercised is not tested.
"""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import unittest

from harness import Server

SIGNING_PYTHON = os.environ.get("RDV_SIGNING_PYTHON", "/usr/bin/python3")
CONTENT_TYPE = "application/pkarr.org/relays#payload"

# Reads [[seed_hex, timestamp, v_hex], ...] as JSON on stdin; writes [[key, record_hex], ...].
_SIGNER = r"""
import json, struct, sys
from nacl.signing import SigningKey
Z32 = "ybndrfg8ejkmcpqxot1uwisza345h769"
def z32(data):
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(Z32[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))
out = []
for seed_hex, timestamp, v_hex in json.load(sys.stdin):
    key = SigningKey(bytes.fromhex(seed_hex))
    v = bytes.fromhex(v_hex)
    signature = key.sign(b"3:seqi%de1:v%d:%s" % (timestamp, len(v), v)).signature
    out.append([z32(bytes(key.verify_key)), (signature + struct.pack(">Q", timestamp) + v).hex()])
json.dump(out, sys.stdout)
"""


def sign(*items):
    """items: (seed byte, timestamp µs, v bytes). Returns [(key, record bytes)]."""
    request = [[bytes([seed]) .hex() * 32, timestamp, v.hex()] for seed, timestamp, v in items]
    try:
        done = subprocess.run([SIGNING_PYTHON, "-c", _SIGNER], input=json.dumps(request),
                              capture_output=True, text=True, timeout=30, check=False)
    except OSError as error:
        raise AssertionError("cannot run %s to sign records: %s" % (SIGNING_PYTHON, error))
    if done.returncode != 0:
        raise AssertionError("signing with %s failed (is python3-nacl installed?): %s"
                             % (SIGNING_PYTHON, done.stderr))
    return [(key, bytes.fromhex(record)) for key, record in json.loads(done.stdout)]


class PkarrTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("-maxRequests", "1000")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_put_get_conflict_and_refresh(self):
        now = time.time_ns() // 1000
        (key, first), (_, older), (_, newer) = sign((1, now, b"first"), (1, now - 1, b"older"),
                                                    (1, now + 1, b"newer"))
        target = "/pk/" + key
        put = self.server.request("PUT", target, first)
        self.assertEqual(put.status, 204, put)
        get = self.server.request("GET", target)
        self.assertEqual(get.status, 200, get)
        self.assertEqual(get.body, first)
        self.assertEqual(get.header("Content-Type"), CONTENT_TYPE)
        self.assertIsNotNone(get.header("ETag"))
        last_modified = get.header("Last-Modified")
        self.assertEqual(last_modified,
                         time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now // 10**6)))
        self.assertEqual(self.server.request("PUT", target, first).status, 204)  # idempotent
        conflict = self.server.request("PUT", target, older)
        self.assertEqual(conflict.status, 409, conflict)
        self.assertEqual(conflict.body, b"Conflict: a newer record, or another record with the "
                                        b"same timestamp, is stored\n")
        self.assertEqual(self.server.request("POST", target, newer).status, 204)
        self.assertEqual(self.server.request("GET", target).body, newer)
        not_modified = self.server.request("GET", target,
                                           headers=[("If-Modified-Since", last_modified)])
        self.assertEqual(not_modified.status, 304 if now // 10**6 == (now + 1) // 10**6 else 200)

    def test_a_full_size_record_fits_and_one_byte_more_does_not(self):
        now = time.time_ns() // 1000
        (key, full), (_, over) = sign((2, now, b"v" * 1000), (2, now + 1, b"v" * 1001))
        self.assertEqual(self.server.request("PUT", "/pk/" + key, full).status, 204)
        too_large = self.server.request("PUT", "/pk/" + key, over)
        self.assertEqual(too_large.status, 413, too_large)
        self.assertEqual(too_large.body, b"Payload Too Large: v over 1000 bytes\n")
        self.assertEqual(self.server.request("GET", "/pk/" + key).body, full)

    def test_refusals(self):
        (key, record), = sign((3, time.time_ns() // 1000, b"v"))
        tampered = bytes([record[0] ^ 1]) + record[1:]
        bad = self.server.request("PUT", "/pk/" + key, tampered)
        self.assertEqual((bad.status, bad.body), (400, b"Bad Request: invalid signature\n"))
        short = self.server.request("PUT", "/pk/" + key, record[:71])
        self.assertEqual(short.status, 400)
        wrong = self.server.request("GET", "/pk/" + key[:-1])
        self.assertEqual(wrong.body,
                         b"Bad Request: invalid public key (expected 52 z-base-32 characters)\n")
        self.assertEqual(self.server.request("GET", "/pk/" + key).status, 404)
        # The key API cannot write "pk/<key>" by its encoded path, bypassing the signature.
        forged = self.server.request("PUT", "/pk%2F" + key, b"forged")
        self.assertEqual(forged.status, 403, forged)
        delete = self.server.request("DELETE", "/pk/" + key)
        self.assertEqual(delete.status, 405)
        self.assertEqual(delete.header("Allow"), "GET, HEAD, POST, PUT, OPTIONS")


class PkarrPersistenceTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rdv-pkarr-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_records_survive_a_restart_with_lmdb(self):
        now = time.time_ns() // 1000
        (key, record), (_, older) = sign((4, now, b"kept"), (4, now - 5, b"older"))
        db = os.path.join(self.dir, "data.mdb")
        with Server("-db", db) as server:
            self.assertEqual(server.request("PUT", "/pk/" + key, record).status, 204)
        with Server("-db", db) as server:
            get = server.request("GET", "/pk/" + key)
            self.assertEqual(get.status, 200, get)
            self.assertEqual(get.body, record)
            self.assertEqual(get.header("Content-Type"), CONTENT_TYPE)
            # The newer-timestamp rule holds against the record read back from the file.
            self.assertEqual(server.request("PUT", "/pk/" + key, older).status, 409)


if __name__ == "__main__":
    unittest.main()
