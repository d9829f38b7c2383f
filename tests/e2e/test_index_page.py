"""The index page as a browser and a reverse proxy see it: the origin in its examples (from the
Host header, or from a trusted proxy's X-Forwarded-Proto / X-Forwarded-Host / Forwarded), its
policy and cache headers, and the free /favicon.ico. (tests/browser renders it in Chromium.)"""

import unittest

from harness import PerTestServerCase


class IndexPageBehindAProxyTest(PerTestServerCase):

    def page(self, headers=(), host=None):
        response = self.conn.request("GET", "/", headers=list(headers), host=host)
        self.assertEqual(response.status, 200, response)
        return response.body.decode()

    def test_a_trusted_proxy_sets_the_scheme_and_the_host_with_its_port(self):
        self.start()  # the default -trustedProxies: loopback, where this test connects from
        body = self.page([("X-Forwarded-Proto", "https"),
                          ("X-Forwarded-Host", "kv.example:8443")], host="127.0.0.1:1")
        self.assertIn("curl https://kv.example:8443/my-key", body)
        body = self.page([("Forwarded", 'for=192.0.2.1;proto=https;host="kv.example"')])
        self.assertIn("curl https://kv.example/my-key", body)
        # A value that is not a plausible host is not reflected.
        body = self.page([("X-Forwarded-Host", "<b>x</b>")], host="kv.example")
        self.assertIn("curl http://kv.example/my-key", body)
        self.assertNotIn("<b>x", body)

    def test_an_untrusted_peer_cannot_change_the_origin(self):
        self.start("-trustedProxies", "")
        body = self.page([("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example"),
                          ("Forwarded", "proto=https;host=evil.example")], host="kv.example")
        self.assertIn("curl http://kv.example/my-key", body)
        self.assertNotIn("evil.example", body)

    def test_the_page_has_a_policy_and_a_cache_lifetime_that_varies_with_the_origin(self):
        self.start()
        response = self.conn.request("GET", "/")
        policy = response.header("Content-Security-Policy")
        self.assertTrue(policy.startswith("default-src 'none'; script-src 'sha256-"), policy)
        self.assertIn("connect-src 'self'", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        self.assertEqual(response.header("Cache-Control"), "public, max-age=300")
        self.assertEqual(response.header_all("Vary"),
                         ["Accept-Encoding", "Host, X-Forwarded-Proto, X-Forwarded-Host, Forwarded"])

    def test_the_favicon_is_free_and_the_key_stays_reachable_percent_encoded(self):
        self.start("-maxRequests", "3")
        for _ in range(5):
            response = self.conn.request("GET", "/favicon.ico")
            self.assertEqual(response.status, 204, response)
            self.assertEqual(response.header("Cache-Control"), "public, max-age=86400")
            self.assertIsNone(response.header("RateLimit-Remaining"), response)
        response = self.conn.request("PUT", "/%66avicon.ico", b"an icon")
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.header("RateLimit-Remaining"), "0")  # 3 tokens, one write
        self.assertEqual(self.conn.request("GET", "/favicon.ico").status, 204)


if __name__ == "__main__":
    unittest.main()
