"""Expiry with -expireDuration 2s: keys are served until they expire and never after.

Ours: expiry is checked on every read (the original served expired keys until a once-a-minute
sweep). A successful POST refreshes a key's lifetime; a GET does not.
Times are measured around each request: a key written between t_before and t_after expires
between t_before + 2 s and t_after + 2 s on the server's clock.
"""

import time
import unittest

from harness import NO_RATE_LIMIT, SLOWDOWN, ServerTestCase

EXPIRE_S = 2.0
EARLY_S = 0.1  # clock granularity allowed before the expiry
# How late a 404 may come after the expiry ("right after"): a coarse clock and a slow loop.
LATE_S = 1.0 * SLOWDOWN
POLL_S = 0.05


class ExpiryTest(ServerTestCase):
    SERVER_FLAGS = NO_RATE_LIMIT + ("-expireDuration", "2s")

    def post(self, path, body=b"v", headers=()):
        before = time.monotonic()
        response = self.conn.request("POST", path, body, headers)
        after = time.monotonic()
        self.assert_ok(response)
        return before, after

    def poll_until_gone(self, path, written_before, written_after, method="GET"):
        """Polls until 404. Asserts it is served (200) while surely alive, and gone (404) soon
        after the expiry. Returns the time the first 404 was seen."""
        alive_until = written_before + EXPIRE_S - EARLY_S
        gone_by = written_after + EXPIRE_S + LATE_S
        while True:
            sent = time.monotonic()
            response = self.conn.request(method, path)
            received = time.monotonic()
            if response.status == 404:
                self.assertGreaterEqual(received, alive_until,
                                        "%s expired %.2f s after its write, before %.1f s"
                                        % (path, received - written_before, EXPIRE_S))
                return received
            self.assertEqual(response.status, 200, response)
            self.assertLess(sent, gone_by, "%s still served %.2f s after its write"
                            % (path, sent - written_after))
            time.sleep(POLL_S)

    def test_a_key_is_served_until_it_expires_and_is_404_right_after(self):
        path = "/" + self.key()
        before, after = self.post(path, b"short-lived")
        self.assert_value(self.conn.request("GET", path), b"short-lived")
        self.poll_until_gone(path, before, after)
        self.assert_not_found(self.conn.request("GET", path))

    def test_head_of_an_expired_key_is_404(self):
        path = "/" + self.key()
        before, after = self.post(path)
        self.poll_until_gone(path, before, after, method="HEAD")

    def test_a_post_refreshes_the_lifetime(self):
        path = "/" + self.key()
        first_before, _ = self.post(path, b"one")
        time.sleep(1.2)
        before, after = self.post(path, b"two")
        # Past the first write's expiry, still alive thanks to the second write.
        time.sleep(max(0.0, first_before + EXPIRE_S + 0.3 - time.monotonic()))
        if time.monotonic() < before + EXPIRE_S - EARLY_S:
            self.assert_value(self.conn.request("GET", path), b"two")
        self.poll_until_gone(path, before, after)

    def test_a_get_does_not_refresh_the_lifetime(self):
        path = "/" + self.key()
        before, after = self.post(path, b"read-only")
        time.sleep(1.0)
        self.assert_value(self.conn.request("GET", path), b"read-only")
        self.poll_until_gone(path, before, after)

    def test_an_expired_key_loses_its_owner_and_can_be_created_again(self):
        path = "/" + self.key()
        before, after = self.post(path, b"owned", [("X-Owner-Secret", "first")])
        self.poll_until_gone(path, before, after)
        self.post(path, b"new owner", [("X-Owner-Secret", "second")])
        self.assert_value(self.conn.request("GET", path), b"new owner")
        response = self.conn.request("POST", path, b"x", [("X-Owner-Secret", "first")])
        self.assert_error(response, 403, "Forbidden: Incorrect secret")


class ExpiredKeysFreeCapacityTest(ServerTestCase):
    """-maxNumKV counts live keys. The store frees an expired key's unit of capacity lazily (in
    the new key's shard at once, elsewhere at the next sweep, every expire/10 clamped to 1-10 s),
    so a new key may see 507 for up to one sweep interval after another key expired."""

    SERVER_FLAGS = NO_RATE_LIMIT + ("-expireDuration", "2s", "-maxNumKV", "1")
    SWEEP_INTERVAL_S = 1.0  # 2 s / 10, clamped to at least 1 s

    def test_an_expired_key_stops_counting_against_max_num_kv_within_a_sweep(self):
        before = time.monotonic()
        self.assert_ok(self.conn.request("POST", "/first", b"1"))
        after = time.monotonic()
        self.assert_error(self.conn.request("POST", "/second", b"2"), 507,
                          "Store capacity reached")
        deadline = after + EXPIRE_S + LATE_S
        while self.conn.request("GET", "/first").status != 404:
            self.assertLess(time.monotonic(), deadline, "/first never expired")
            time.sleep(POLL_S)
        self.assertGreaterEqual(time.monotonic(), before + EXPIRE_S - EARLY_S)
        gone = time.monotonic()
        deadline = gone + self.SWEEP_INTERVAL_S + LATE_S
        while True:
            response = self.conn.request("POST", "/second", b"2")
            if response.status != 507:
                break
            self.assertLess(time.monotonic(), deadline,
                            "the expired key still blocks new keys %.1f s after it expired"
                            % (time.monotonic() - gone))
            time.sleep(POLL_S)
        self.assert_ok(response)
        self.assert_value(self.conn.request("GET", "/second"), b"2")


if __name__ == "__main__":
    unittest.main()
