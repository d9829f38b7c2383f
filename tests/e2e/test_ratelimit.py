"""Rate limiting: the original server's observed sequences, as rendezvous answers them.

Ours: a token bucket per client of -maxRequests tokens, refilled continuously at -maxRequests per
-resetDuration (the original cleared every bucket at a fixed interval); POST costs 3, any other
key request 1; a refused request costs nothing; 429 carries Retry-After (whole seconds until the
request would pass, at least 1); any positive -maxRequests works (the original wrapped at 256).

Most tests use -resetDuration 1000h so that refill during a test is negligible even for
-maxRequests 1000, and each test gets a fresh server, hence fresh buckets.
"""

import math
import time
import unittest

from harness import SLOWDOWN, PerTestServerCase

SLOW_REFILL = ("-resetDuration", "1000h")
SLOW_REFILL_S = 1000 * 3600


class RateLimitCase(PerTestServerCase):
    """Each test starts its own server (fresh buckets) with self.start(flags)."""

    def statuses(self, requests, conn=None):
        """Sends (method, path, headers) requests one by one; returns their statuses."""
        conn = conn or self.conn
        out = []
        for method, path, *rest in requests:
            headers = rest[0] if rest else ()
            body = b"v" if method == "POST" else None
            out.append(conn.request(method, path, body, headers).status)
        return out

    def assert_rate_limited(self, response, expected_retry_after_s=None, tolerance_s=2,
                            head=False):
        """429 "Rate limit\\n" with error headers and a sane Retry-After."""
        self.assert_error(response, 429, "Rate limit", head=head)
        self.assertEqual(response.header("Content-Length"), "11")
        retry_after = response.header("Retry-After")
        self.assertIsNotNone(retry_after, response)
        self.assertRegex(retry_after, r"^[0-9]+$")
        self.assertGreaterEqual(int(retry_after), 1)
        if expected_retry_after_s is not None:
            self.assertLessEqual(abs(int(retry_after) - expected_retry_after_s), tolerance_s,
                                 "Retry-After %s, expected about %s" % (retry_after,
                                                                        expected_retry_after_s))
        return int(retry_after)


class SequenceTest(RateLimitCase):
    """The original's observed sequences with -maxRequests 11."""

    def test_three_posts_pass_the_fourth_is_refused_and_two_gets_remain(self):
        self.start("-maxRequests", "11", *SLOW_REFILL)
        got = self.statuses([("POST", "/k")] * 3)
        self.assertEqual(got, [200, 200, 200])
        # 2 tokens left; a POST needs 3, so it waits for one more token (1000 h / 11).
        one_token_s = math.ceil(SLOW_REFILL_S / 11)
        self.assert_rate_limited(self.conn.request("POST", "/k", b"v"), one_token_s)
        self.assertEqual(self.statuses([("GET", "/k")] * 2), [200, 200])
        self.assert_rate_limited(self.conn.request("GET", "/k"), one_token_s)
        self.assert_rate_limited(self.conn.request("GET", "/k"))

    def test_eleven_gets_pass_and_the_twelfth_is_refused(self):
        self.start("-maxRequests", "11")  # the default 1m refill: 0.18 token/s, negligible here
        self.assertEqual(self.statuses([("GET", "/missing")] * 11), [404] * 11)
        self.assert_rate_limited(self.conn.request("GET", "/missing"), math.ceil(60 / 11))

    def test_a_refused_post_costs_nothing_so_gets_still_pass(self):
        self.start("-maxRequests", "11", *SLOW_REFILL)
        g, p = ("GET", "/gp"), ("POST", "/gp")
        got = self.statuses([g, p, g, p, g, p, g, g, g])
        self.assertEqual(got, [404, 200, 200, 200, 200, 429, 200, 200, 429])

    def test_oversize_posts_cost_tokens_before_the_size_check(self):
        self.start("-maxRequests", "11", *SLOW_REFILL)
        for _ in range(3):
            with self.server.connect() as conn:  # a 413 closes its connection
                self.assert_error(conn.request("POST", "/big", b"x" * 1001), 413,
                                  "Value too large")
        with self.server.connect() as conn:
            self.assert_rate_limited(conn.request("POST", "/big", b"x" * 1001))
        self.assert_not_found(self.conn.request("GET", "/big"))  # 2 tokens were left

    def test_refused_methods_and_wrong_secrets_cost_tokens(self):
        self.start("-maxRequests", "11", *SLOW_REFILL)
        # PATCH: 405, 1 token (PUT stores and costs 3 since issue 6).
        self.assertEqual(self.statuses([("PATCH", "/m")] * 11), [405] * 11)
        self.assert_rate_limited(self.conn.request("GET", "/m"))

    def test_wrong_secret_posts_cost_three_tokens_each(self):
        self.start("-maxRequests", "11", *SLOW_REFILL)
        owner = [("X-Owner-Secret", "right"), ("X-Forwarded-For", "203.0.113.9")]
        self.assertEqual(self.conn.request("POST", "/owned", b"v", owner).status, 200)
        wrong = [("X-Owner-Secret", "wrong")]
        self.assertEqual(self.statuses([("POST", "/owned", wrong)] * 3), [403] * 3)
        self.assert_rate_limited(self.conn.request("POST", "/owned", b"v", wrong))

    def test_maxrequests_1000_is_not_wrapped_to_8_bits(self):
        # The original cast -maxRequests to uint8: 1000 became 232.
        self.start("-maxRequests", "1000", *SLOW_REFILL)
        statuses = self.statuses([("POST", "/many")] * 333)
        self.assertEqual(statuses, [200] * 333)
        self.assert_rate_limited(self.conn.request("POST", "/many", b"v"))
        self.assertEqual(self.conn.request("GET", "/many").status, 200)
        self.assert_rate_limited(self.conn.request("GET", "/many"))

    def test_maxrequests_256_allows_requests(self):
        # The original wrapped 256 to 0 tokens, refusing every request.
        self.start("-maxRequests", "256", *SLOW_REFILL)
        self.assertEqual(self.statuses([("GET", "/w")] * 256), [404] * 256)
        self.assert_rate_limited(self.conn.request("GET", "/w"))


class ExemptTest(RateLimitCase):
    """What is not rate-limited: the index page and requests refused before the limiter."""

    def test_index_and_early_refusals_pass_with_an_empty_bucket_but_a_missing_key_is_429(self):
        self.start("-maxRequests", "3", *SLOW_REFILL)
        self.assertEqual(self.conn.request("POST", "/full", b"v").status, 200)
        self.assert_rate_limited(self.conn.request("GET", "/full"))
        checks = [
            ("GET", "/", 200),
            ("HEAD", "/", 200),
            ("GET", "/?q=1", 200),
            ("POST", "/", 405),
            ("GET", "/" + "a" * 101, 400),  # Key too long
            ("POST", "/" + "a" * 101, 400),
            ("GET", "/bad%zz", 400),  # invalid percent-encoding
            ("POST", "/ip/", 400),  # Name is required after /ip/
            ("POST", "/ip/" + "n" * 97, 400),  # final key too long
            ("GET", "http://x", 400),  # Key is required
        ]
        for method, target, status in checks:
            with self.subTest(method=method, target=target):
                response = self.server.request(method, target, b"v" if method == "POST" else None)
                self.assertEqual(response.status, status, response)
        # A missing key with an empty bucket is 429, not 404.
        self.assert_rate_limited(self.conn.request("GET", "/nothing-here"))
        self.assert_rate_limited(self.fresh().request("HEAD", "/full"), head=True)


class RefillTest(RateLimitCase):
    """Ours: continuous refill (the original cleared all buckets every resetDuration)."""

    def test_tokens_come_back_continuously_and_retry_after_says_when(self):
        # 3 tokens per 3 s: one token a second.
        self.start("-maxRequests", "3", "-resetDuration", "3s")
        start = time.monotonic()
        self.assertEqual(self.conn.request("POST", "/r", b"v").status, 200)
        retry_after = self.assert_rate_limited(self.conn.request("GET", "/r"))
        self.assertEqual(retry_after, 1)
        # Poll (a refusal costs nothing): the first GET passes after about one second, long
        # before a fixed 3 s window would have reset.
        deadline = start + 2.5 * SLOWDOWN
        while True:
            response = self.conn.request("GET", "/r")
            if response.status != 429:
                break
            self.assertLess(time.monotonic(), deadline, "no token came back within 2.5 s")
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        self.assertEqual(response.status, 200, response)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 2.0 * SLOWDOWN)
        # Now empty again; a POST needs 3 tokens, i.e. about 3 s.
        retry_after = self.assert_rate_limited(self.conn.request("POST", "/r", b"v"))
        self.assertIn(retry_after, (2, 3))


class ClientBucketTest(RateLimitCase):
    """Which bucket a request is charged to (see also test_client_ip)."""

    def exhaust(self, headers=()):
        self.assertEqual(self.statuses([("GET", "/b", headers)] * 3), [404] * 3)
        self.assert_rate_limited(self.conn.request("GET", "/b", headers=headers))

    def test_forwarded_clients_from_a_trusted_proxy_get_their_own_buckets(self):
        self.start("-maxRequests", "3", *SLOW_REFILL)
        self.exhaust()
        self.exhaust([("X-Forwarded-For", "1.2.3.4")])
        self.assertEqual(self.conn.request("GET", "/b", headers=[("X-Forwarded-For",
                                                                  "5.6.7.8")]).status, 404)

    def test_a_client_cannot_pick_a_fresh_bucket_by_prepending_to_x_forwarded_for(self):
        # Ours: the right-most untrusted entry is the client (the original took the left-most).
        self.start("-maxRequests", "3", *SLOW_REFILL)
        self.exhaust([("X-Forwarded-For", "1.2.3.4")])
        response = self.conn.request("GET", "/b",
                                     headers=[("X-Forwarded-For", "9.9.9.9, 1.2.3.4")])
        self.assert_rate_limited(response)

    def test_ipv4_mapped_ipv6_shares_the_ipv4_bucket(self):
        self.start("-maxRequests", "3", *SLOW_REFILL)
        self.exhaust([("X-Forwarded-For", "1.2.3.4")])
        response = self.conn.request("GET", "/b",
                                     headers=[("X-Forwarded-For", "::ffff:1.2.3.4")])
        self.assert_rate_limited(response)

    def test_x_forwarded_for_from_an_untrusted_peer_does_not_change_the_bucket(self):
        self.start("-maxRequests", "3", *SLOW_REFILL, "-trustedProxies", "")
        self.exhaust()
        response = self.conn.request("GET", "/b", headers=[("X-Forwarded-For", "1.2.3.4")])
        self.assert_rate_limited(response)


if __name__ == "__main__":
    unittest.main()
