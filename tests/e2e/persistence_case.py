"""Shared pieces of the persistence black-box tests (test_persistence.py, test_bad_files.py): the
PersistenceCase base (a temp dir, servers on a -db file in it, restarts) and its helpers.
"""

import hashlib
import os
import shutil
import signal
import tempfile
import threading
import unittest

from harness import SLOWDOWN, Server, pipeline, run_server_to_exit, sanitizer_reports

NO_LIMITS = ("-maxRequests", "1000000000", "-maxKeysPerIP", "0")
SECRET_HEADER = "X-Owner-Secret"
FORBIDDEN = b"Forbidden: Incorrect secret\n"

# Keys of every awkward kind, sent percent-encoded (every byte as %XX).
ODD_KEYS = (
    b"\x00", b"nul\x00inside", b"k", b"k\x00", b"line\nbreak", b"cr\r\nlf", b"\x01\x02\x1b[31m\x7f",
    b"tab\tand space ", b"\xff\xfe\xfd", b"\xc3\x28 invalid utf-8", b"\xed\xa0\x80 surrogate",
    b"%41 a literal percent", b"/leading/slash", b"?#not-a-query", "ключ κλειδί 鍵".encode(),
    bytes(range(1, 101)), b"\xff" * 100,
)


def path_of(key):
    if isinstance(key, str):
        key = key.encode()
    return "/" + "".join("%%%02X" % byte for byte in key)


def derived_value(key):
    """64 to 256 bytes that depend on the key only."""
    digest = hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest().encode()
    return digest * (1 + digest[0] % 4)


def etag_number(response):
    etag = response.header("ETag")
    return int(etag.strip('"'), 16) if etag else None


def pipelined(server, items, build, connections=8, chunk=500):
    """Sends build(conn, item) for every item, pipelined in chunks over `connections` keep-alive
    connections in parallel; returns {item: Response}."""
    results = {}
    failures = []

    def work(part):
        try:
            with server.connect() as conn:
                for start in range(0, len(part), chunk):
                    batch = part[start:start + chunk]
                    answers = pipeline(conn, [build(conn, item) for item in batch])
                    results.update(zip(batch, answers))
        except Exception as error:  # pylint: disable=broad-except
            failures.append(error)

    threads = [threading.Thread(target=work, args=(items[i::connections],), daemon=True)
               for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60 * SLOWDOWN)
    if failures:
        raise failures[0]
    if len(results) != len(items):
        raise AssertionError("pipelined: %d of %d answers" % (len(results), len(items)))
    return results


class PersistenceCase(unittest.TestCase):
    """Each test gets a temp dir (removed at the end) and starts servers on files in it."""

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="rdv-persist-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.db = os.path.join(self.dir, "store.db")

    def start(self, *flags, db=None):
        server = Server(*NO_LIMITS, *flags,
                        base_flags=("-port", "0", "-db", db or self.db, "-disableLocalIPWaring"))
        self.addCleanup(self._reap, server)
        return server.start()

    @staticmethod
    def _reap(server):
        """Cleanup: a server still running (the test failed) is killed by its PID."""
        if server.proc is not None and server.exit_code is None and server.proc.poll() is None:
            server.proc.kill()
            server.wait_exit()

    def stop(self, server, signum):
        """SIGTERM must exit cleanly (0); SIGKILL leaves nothing to check but the file."""
        server.send_signal(signum)
        code = server.wait_exit()
        if signum == signal.SIGTERM:
            server.check_clean_exit()
        else:
            self.assertEqual(code, -signal.SIGKILL, server.output())
            server.check_no_sanitizer_reports()

    @staticmethod
    def post(conn, key, value, secret=None, headers=()):
        headers = list(headers)
        if secret is not None:
            headers.insert(0, (SECRET_HEADER, secret))
        return conn.request("POST", path_of(key), value, headers)

    def assert_posted(self, conn, key, value, secret=None):
        response = self.post(conn, key, value, secret)
        self.assertEqual((response.status, response.body), (200, b"OK"), (key, response))
        return response

    def assert_stored(self, conn, key, value):
        response = conn.request("GET", path_of(key))
        self.assertEqual((response.status, response.body), (200, value), key)
        return response

    def refused(self, db, *flags):
        """Starts a server that must refuse `db`: exit 1 and one line naming the file."""
        code, out, err = run_server_to_exit(
            ["-l", "127.0.0.1", "-port", "0", "-disableLocalIPWaring", *NO_LIMITS, *flags,
             "-db", db], timeout=5.0)
        lines = [line for line in (out + err).splitlines() if line.strip()]
        self.assertEqual(code, 1, out + err)
        self.assertEqual(len(lines), 1, out + err)
        self.assertIn(db, lines[0])
        self.assertEqual(sanitizer_reports(out + err), [])
        return lines[0]
