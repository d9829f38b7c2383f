"""Key quotas (issue 4): -maxKeysPerIP bounds the live keys one client (IPv4 address or IPv6
prefix) has created, so that a few hundred addresses cannot fill -maxNumKV for everyone.

The client address comes from X-Forwarded-For, which the server believes from loopback (a trusted
proxy by default). Over the quota a new key is refused with 429 and a body naming the quota;
updates of existing keys still pass, other clients are unaffected, and a DELETE gives the slot
back. The same runs on the memory engine and on LMDB (-db).
"""

import shutil
import tempfile
import unittest

from harness import NO_RATE_LIMIT, Server, ServerTestCase

QUOTA = 5
QUOTA_MESSAGE = "Key quota reached: too many live keys from your address"
QUOTA_FLAGS = NO_RATE_LIMIT + ("-maxKeysPerIP", str(QUOTA), "-maxNumKV", "100")


class QuotaChecks:
    """The quota scenario, run against self.server (mixed into one test class per engine)."""

    def post(self, key, address, body=b"v"):
        return self.conn.request("POST", "/" + key, body,
                                 headers=[("X-Forwarded-For", address)])

    def test_a_client_past_its_quota_is_refused_until_it_deletes_a_key(self):
        address = "203.0.113.9"
        keys = [self.key("-%d" % i) for i in range(QUOTA)]
        for key in keys:
            self.assert_ok(self.post(key, address))
        refused = self.post(self.key("-extra"), address)
        self.assert_error(refused, 429, QUOTA_MESSAGE)
        self.assert_not_found(self.conn.request("GET", "/" + self.key("-extra")))
        # Updating a key it already has is no creation.
        self.assert_ok(self.post(keys[0], address, b"updated"))
        self.assert_value(self.conn.request("GET", "/" + keys[0]), b"updated")
        # Another address has its own quota.
        self.assert_ok(self.post(self.key("-other"), "203.0.113.10"))
        # A DELETE gives the slot back.
        deleted = self.conn.request("DELETE", "/" + keys[1],
                                    headers=[("X-Forwarded-For", address)])
        self.assertEqual(deleted.status, 204, deleted)
        self.assert_ok(self.post(self.key("-after-delete"), address))
        self.assert_error(self.post(self.key("-extra2"), address), 429, QUOTA_MESSAGE)

    def test_ipv6_clients_share_one_quota_per_64(self):
        for i in range(QUOTA):
            self.assert_ok(self.post(self.key("-%d" % i), "2001:db8:7:7::%x" % (i + 1)))
        refused = self.post(self.key("-extra"), "2001:db8:7:7:ffff::1")
        self.assert_error(refused, 429, QUOTA_MESSAGE)
        self.assert_ok(self.post(self.key("-next-64"), "2001:db8:7:8::1"))


class MemoryQuotaTest(QuotaChecks, ServerTestCase):
    SERVER_FLAGS = QUOTA_FLAGS


class LmdbQuotaTest(QuotaChecks, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rdv-quota-")
        cls.server = Server(*QUOTA_FLAGS, base_flags=(
            "-port", "0", "-db", cls.dir + "/store.db", "-disableLocalIPWaring")).start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
