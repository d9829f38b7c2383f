"""HTTP semantics of issue 6, black-box: PUT, DELETE, HEAD, CORS, ETags and conditional requests,
X-TTL, rate-limit headers, the Allow lists, and the original's own client calls, unchanged.

Every test of SemanticsTests runs twice: on the in-memory store and on the LMDB store (whose
writes complete on a writer thread). LmdbRestartTest checks that ETags survive a restart.
"""

import email.utils
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import (NO_RATE_LIMIT, SLOWDOWN, Server, ServerTestCase, build_request, pipeline,
                     race)

KEY_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
INDEX_METHODS = "GET, HEAD, OPTIONS"
EXPOSED = ("ETag, Expires, X-Expires-In, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
           "Retry-After")
ETAG_RE = re.compile(r'^"[0-9a-f]{1,16}"$')
RACERS = 32


def statuses(responses):
    return sorted(response.status for response in responses)


class SemanticsTests:
    """The tests; mixed into one TestCase per store engine below. self.conn is keep-alive."""

    # ----- helpers -----

    def write(self, method, key, value, headers=()):
        return self.conn.request(method, "/" + key, value, list(headers))

    def get(self, key, headers=(), method="GET"):
        return self.conn.request(method, "/" + key, None, list(headers))

    def assert_value_headers(self, response, expires_in=7200):
        """ETag, Expires, X-Expires-In and Cache-Control of a value or a write reply."""
        self.assertRegex(response.header("ETag") or "", ETAG_RE, response)
        self.assertEqual(response.header("Cache-Control"), "no-store", response)
        left = int(response.header("X-Expires-In"))
        self.assertLessEqual(left, expires_in, response)
        self.assertGreaterEqual(left, expires_in - 2 * SLOWDOWN, response)
        expires = email.utils.parsedate_to_datetime(response.header("Expires")).timestamp()
        self.assertAlmostEqual(expires, time.time() + left, delta=2 + SLOWDOWN)

    def assert_cors(self, response):
        self.assertEqual(response.header("Access-Control-Allow-Origin"), "*", response)
        self.assertEqual(response.header("Access-Control-Expose-Headers"), EXPOSED, response)

    # ----- PUT -----

    def test_put_stores_exactly_like_post(self):
        key = self.key()
        response = self.write("PUT", key, b"hello")
        self.assert_ok(response)
        self.assert_value_headers(response)
        self.assert_value(self.get(key), b"hello")
        self.assert_ok(self.write("POST", key, b"by post"))
        self.assert_ok(self.write("PUT", key, b"by put"))
        self.assert_value(self.get(key), b"by put")

    def test_put_keeps_ownership_ip_rewrite_and_size_limits(self):
        key = self.key()
        self.assert_ok(self.write("PUT", key, b"v1", [("X-Owner-Secret", "s3cret")]))
        self.assert_error(self.write("PUT", key, b"x"), 403, "Forbidden: Incorrect secret")
        self.assert_error(self.write("POST", key, b"x", [("X-Owner-Secret", "no")]), 403,
                          "Forbidden: Incorrect secret")
        self.assert_ok(self.write("PUT", key, b"v2", [("X-Owner-Secret", "s3cret")]))
        self.assert_ok(self.write("PUT", "ip/" + key, b"info"), body="127.0.0.1")
        self.assert_value(self.get("ip/127.0.0.1/" + key), b"info")
        self.assert_error(self.write("PUT", "ip/", b"v"), 400, "Name is required after /ip/")
        self.assert_error(self.fresh().request("PUT", "/" + key, b"v" * 1001), 413,
                          "Value too large")

    # ----- DELETE -----

    def test_delete_answers_204_without_a_body_then_404(self):
        key = self.key()
        self.assert_ok(self.write("POST", key, b"v"))
        requests = [self.conn.build("DELETE", "/" + key), self.conn.build("GET", "/" + key),
                    self.conn.build("DELETE", "/" + key)]
        deleted, read, again = pipeline(self.conn, requests)
        self.assertEqual(deleted.status, 204, deleted)
        self.assertIsNone(deleted.header("Content-Length"), deleted)
        self.assertIsNone(deleted.header("Content-Type"), deleted)
        self.assert_cors(deleted)
        self.assert_not_found(read)  # read right after the 204: no stray body bytes
        self.assert_not_found(again)

    def test_delete_of_an_owned_key_needs_its_secret(self):
        key = self.key()
        self.assert_ok(self.write("POST", key, b"v", [("X-Owner-Secret", "right")]))
        self.assert_error(self.get(key, method="DELETE"), 403, "Forbidden: Incorrect secret")
        self.assert_error(self.get(key, [("X-Owner-Secret", "wrong")], method="DELETE"), 403,
                          "Forbidden: Incorrect secret")
        self.assert_value(self.get(key), b"v")
        self.assertEqual(self.get(key, [("X-Owner-Secret", "right")], method="DELETE").status, 204)
        self.assert_ok(self.write("POST", key, b"new owner", [("X-Owner-Secret", "other")]))

    def test_delete_of_an_ip_key_only_from_its_address(self):
        name = self.key()

        def as_client(address, method, target, body=None):
            return self.conn.request(method, target, body, [("X-Forwarded-For", address)])

        self.assert_ok(as_client("203.0.113.7", "POST", "/ip/" + name, b"v"), body="203.0.113.7")
        path = "/ip/203.0.113.7/" + name
        self.assert_error(as_client("203.0.113.8", "DELETE", path), 403,
                          "Forbidden: key belongs to another address")
        self.assert_value(self.conn.request("GET", path), b"v")
        self.assertEqual(as_client("203.0.113.7", "DELETE", path).status, 204)
        # IPv6: any address of the client's /64 is the client.
        self.assert_ok(as_client("2001:db8:1:2::1", "POST", "/ip/" + name, b"v6"),
                       body="2001:db8:1:2::1")
        path = "/ip/2001:db8:1:2::1/" + name
        self.assertEqual(as_client("2001:db8:1:3::1", "DELETE", path).status, 403)
        self.assertEqual(as_client("2001:db8:1:2::beef", "DELETE", path).status, 204)

    # ----- HEAD -----

    def test_head_has_the_headers_of_get_and_no_body(self):
        key = self.key()
        self.assert_ok(self.write("POST", key, b"hello world"))
        get = self.get(key)
        requests = [self.conn.build("HEAD", "/" + key), self.conn.build("GET", "/" + key)]
        head, after = pipeline(self.conn, requests, head_flags=[True, False])
        self.assertEqual(head.status, 200, head)
        for name in ("Content-Type", "Content-Length", "ETag", "Cache-Control",
                     "Access-Control-Allow-Origin"):
            self.assertEqual(head.header(name), get.header(name), name)
        self.assert_value_headers(head)
        self.assert_value(after, b"hello world")

    # ----- CORS -----

    def test_a_browser_preflight_is_answered_for_free(self):
        key = self.key()
        headers = [("Origin", "http://app.example"),
                   ("Access-Control-Request-Method", "PUT"),
                   ("Access-Control-Request-Headers", "x-owner-secret,if-match"),
                   ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
                   ("Accept", "*/*"), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Site", "cross-site"),
                   ("Referer", "http://app.example/")]
        requests = [self.conn.build("OPTIONS", "/" + key, headers=headers),
                    self.conn.build("OPTIONS", "/", headers=headers),
                    self.conn.build("GET", "/" + key)]
        preflight, index, after = pipeline(self.conn, requests)
        self.assertEqual(preflight.status, 204, preflight)
        self.assertIsNone(preflight.header("Content-Length"), preflight)
        self.assert_cors(preflight)
        allowed_methods = [m.strip() for m in
                           preflight.header("Access-Control-Allow-Methods").split(",")]
        self.assertIn("PUT", allowed_methods)
        self.assertEqual(preflight.header("Allow"), KEY_METHODS)
        allowed_headers = [h.strip().lower() for h in
                           preflight.header("Access-Control-Allow-Headers").split(",")]
        for name in ("x-owner-secret", "if-match", "if-none-match", "x-ttl", "content-type"):
            self.assertIn(name, allowed_headers)
        self.assertEqual(preflight.header("Access-Control-Max-Age"), "86400")
        self.assertIsNone(preflight.header("RateLimit-Remaining"), preflight)
        self.assertEqual(index.status, 204, index)
        self.assertEqual(index.header("Access-Control-Allow-Methods"), INDEX_METHODS)
        self.assert_not_found(after)
        # The request the preflight was for.
        response = self.write("PUT", key, b"from a page",
                              [("Origin", "http://app.example"), ("X-Owner-Secret", "s")])
        self.assert_ok(response)
        self.assert_cors(response)
        self.assert_error(self.conn.request("OPTIONS", "/" + "k" * 101), 400, "Key too long")

    def test_every_answer_allows_any_origin_protocol_errors_included(self):
        key = self.key()
        answers = [self.write("POST", key, b"v"), self.get(key), self.get(key + "-missing"),
                   self.conn.request("GET", "/"), self.conn.request("PATCH", "/" + key),
                   self.conn.request("POST", "/", b"x")]
        conn = self.fresh()
        conn.send(b"NOT A REQUEST\r\n\r\n")
        answers.append(conn.read_response())
        conn = self.fresh()
        conn.send(build_request("GET", "/x", headers=[("X-Big", "a" * 9000)],
                                host=conn.host_header))
        answers.append(conn.read_response())
        self.assertEqual([a.status for a in answers[-2:]], [400, 431])
        for response in answers:
            self.assert_cors(response)

    # ----- ETags and conditions -----

    def test_the_etag_changes_on_every_write_and_if_none_match_gives_304(self):
        key = self.key()
        first = self.write("POST", key, b"same")
        second = self.write("PUT", key, b"same")
        self.assertNotEqual(first.header("ETag"), second.header("ETag"))
        etag = second.header("ETag")
        self.assertEqual(self.get(key).header("ETag"), etag)
        requests = [self.conn.build("GET", "/" + key, headers=[("If-None-Match", etag)]),
                    self.conn.build("HEAD", "/" + key, headers=[("If-None-Match", "W/" + etag)]),
                    self.conn.build("GET", "/" + key, headers=[("If-None-Match", "*")]),
                    self.conn.build("GET", "/" + key,
                                    headers=[("If-None-Match", first.header("ETag"))])]
        *not_modified, changed = pipeline(self.conn, requests, head_flags=[False, True, False,
                                                                           False])
        for response in not_modified:
            self.assertEqual(response.status, 304, response)
            self.assertEqual(response.header("ETag"), etag, response)
            self.assertIsNone(response.header("Content-Length"), response)
            self.assert_value_headers(response)
        self.assert_value(changed, b"same")  # framing held after the 304s
        self.assert_not_found(self.get(key + "-missing", [("If-None-Match", "*")]))

    def test_if_match_is_a_compare_and_swap(self):
        key = self.key()
        v1 = self.write("POST", key, b"v1").header("ETag")
        swapped = self.write("PUT", key, b"v2", [("If-Match", v1)])
        self.assert_ok(swapped)
        self.assert_error(self.write("PUT", key, b"lost", [("If-Match", v1)]), 412,
                          "Precondition Failed")
        self.assert_ok(self.write("POST", key, b"v3", [("If-Match", swapped.header("ETag"))]))
        self.assert_ok(self.write("PUT", key, b"v4", [("If-Match", "*")]))
        self.assert_value(self.get(key), b"v4")
        self.assert_error(self.write("PUT", key + "-new", b"x", [("If-Match", "*")]), 412,
                          "Precondition Failed")
        self.assert_not_found(self.get(key + "-new"))

    def test_if_none_match_star_creates_only_if_absent(self):
        key = self.key()
        self.assert_ok(self.write("PUT", key, b"mine", [("If-None-Match", "*")]))
        self.assert_error(self.write("POST", key, b"yours", [("If-None-Match", "*")]), 412,
                          "Precondition Failed")
        self.assert_value(self.get(key), b"mine")

    def test_if_match_guards_a_delete(self):
        key = self.key()
        etag = self.write("POST", key, b"v").header("ETag")
        self.assert_error(self.get(key, [("If-Match", '"0"')], method="DELETE"), 412,
                          "Precondition Failed")
        self.assertEqual(self.get(key, [("If-Match", etag)], method="DELETE").status, 204)
        self.assert_error(self.get(key, [("If-Match", "*")], method="DELETE"), 412,
                          "Precondition Failed")

    def test_malformed_conditions_are_400(self):
        key = self.key()
        for method, header, value in (("PUT", "If-Match", "unquoted"),
                                      ("POST", "If-Match", '"a" "b"'),
                                      ("PUT", "If-None-Match", '"1"'),
                                      ("GET", "If-None-Match", '"open'),
                                      ("DELETE", "If-Match", "*, \"1\"")):
            with self.subTest(method=method, header=header, value=value):
                body = b"v" if method in ("PUT", "POST") else None
                response = self.conn.request(method, "/" + key, body, [(header, value)])
                self.assert_error(response, 400, "Invalid If-Match or If-None-Match")

    def test_of_32_writers_with_the_same_etag_exactly_one_wins(self):
        key = self.key()
        for method in ("PUT", "POST"):
            etag = self.write("POST", key, b"start").header("ETag")
            responses = race(self.server, [(method, "/" + key, b"w%d" % i, [("If-Match", etag)])
                                           for i in range(RACERS)])
            self.assertEqual(statuses(responses), [200] + [412] * (RACERS - 1))
            winner = [i for i, r in enumerate(responses) if r.status == 200][0]
            read = self.get(key)
            self.assert_value(read, b"w%d" % winner)
            self.assertEqual(read.header("ETag"), responses[winner].header("ETag"))

    def test_of_32_deletes_with_the_same_etag_exactly_one_wins(self):
        key = self.key()
        etag = self.write("POST", key, b"v").header("ETag")
        responses = race(self.server, [("DELETE", "/" + key, None, [("If-Match", etag)])
                                       for _ in range(RACERS)])
        self.assertEqual(statuses(responses), [204] + [412] * (RACERS - 1))

    def test_of_32_create_only_writers_exactly_one_wins(self):
        key = self.key()
        responses = race(self.server, [("PUT", "/" + key, b"w%d" % i, [("If-None-Match", "*")])
                                       for i in range(RACERS)])
        self.assertEqual(statuses(responses), [200] + [412] * (RACERS - 1))

    # ----- X-TTL -----

    def test_x_ttl_shortens_the_lifetime(self):
        key = self.key()
        for ttl in ("90", "90s", "1m30s"):
            with self.subTest(ttl=ttl):
                response = self.write("PUT", key, b"v", [("X-TTL", ttl)])
                self.assert_ok(response)
                self.assert_value_headers(response, expires_in=90)
        self.assert_ok(self.write("POST", key + "-short", b"v", [("X-TTL", "1")]))
        self.assert_value(self.get(key + "-short"), b"v")
        time.sleep(1.2)
        self.assert_not_found(self.get(key + "-short"))

    def test_x_ttl_longer_than_expire_duration_is_capped(self):
        key = self.key()
        for ttl in ("7201", "3h", "99999999999999999999"):
            with self.subTest(ttl=ttl):
                self.assert_value_headers(self.write("PUT", key, b"v", [("X-TTL", ttl)]))

    def test_malformed_zero_or_negative_x_ttl_is_400(self):
        key = self.key()
        for ttl in ("0", "-5", "-5s", "abc", "1.5", "inf"):
            with self.subTest(ttl=ttl):
                self.assert_error(self.write("PUT", key, b"v", [("X-TTL", ttl)]), 400,
                                  "Invalid X-TTL")
        self.assert_not_found(self.get(key))

    # ----- Allow lists and the index page -----

    def test_405_allow_lists_follow_the_new_methods(self):
        for method in ("PATCH", "put", "TRACE"):
            with self.subTest(method=method):
                self.assert_method_not_allowed(self.conn.request(method, "/" + self.key()),
                                               allow=KEY_METHODS)
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method, target="/"):
                self.assert_method_not_allowed(self.conn.request(method, "/", b"x"),
                                               allow=INDEX_METHODS)

    def test_the_index_page_documents_the_new_semantics(self):
        page = self.conn.request("GET", "/").text
        for part in ("curl -X DELETE", "X-TTL", "If-Match", "If-None-Match", "fetch(url",
                     "Access-Control-Allow-Origin", "RateLimit-Remaining", "X-Expires-In"):
            self.assertIn(part, page)

    # ----- the original's clients -----

    def test_the_originals_curl_calls_answer_as_before(self):
        """The original README's curl lines, run as they are written (against this server)."""
        if shutil.which("curl") is None:
            self.skipTest("curl is not installed")
        base = "http://%s" % self.server.authority
        key = self.key()

        def curl(command):
            argv = shlex.split(command.replace("https://rendezvous.jipok.ru", base)
                               .replace("your-key", key).replace("service1", key))
            argv[1:1] = ["-s", "-w", "\n%{http_code}"]
            output = subprocess.run(argv, capture_output=True, timeout=10 * SLOWDOWN,
                                    check=True).stdout.decode()
            body, _, code = output.rpartition("\n")
            return int(code), body

        calls = [
            ('curl -X POST -d "your-data-here" https://rendezvous.jipok.ru/your-key', 200, "OK"),
            ("curl https://rendezvous.jipok.ru/your-key", 200, "your-data-here"),
            ('curl -X POST -d "your-protected-data" -H "X-Owner-Secret: your-secret-here" '
             "https://rendezvous.jipok.ru/your-key", 200, "OK"),
            ('curl -X POST -d "your-new-data" -H "X-Owner-Secret: your-secret-here" '
             "https://rendezvous.jipok.ru/your-key", 200, "OK"),
            ('curl -X POST -d "unauthorized-update" -H "X-Owner-Secret: wrong-secret" '
             "https://rendezvous.jipok.ru/your-key", 403, "Forbidden: Incorrect secret\n"),
            ("curl https://rendezvous.jipok.ru/your-key", 200, "your-new-data"),
            ('curl -X POST -d "my-server-info" https://rendezvous.jipok.ru/ip/service1', 200,
             "127.0.0.1"),
            ("curl https://rendezvous.jipok.ru/ip/127.0.0.1/service1", 200, "my-server-info"),
            ("curl https://rendezvous.jipok.ru/missing-your-key", 404, "Key not found\n"),
        ]
        for command, code, body in calls:
            with self.subTest(command=command):
                self.assertEqual(curl(command), (code, body))

    def test_plain_posts_and_gets_keep_their_exact_shape(self):
        key = self.key()
        response = self.write("POST", key, b"x" * 1000,
                              [("Content-Type", "application/x-www-form-urlencoded"),
                               ("User-Agent", "curl/7.88.1"), ("Accept", "*/*")])
        self.assert_ok(response)  # 200, text/plain; charset=utf-8, Content-Length 2, "OK"
        self.assert_value(self.get(key), b"x" * 1000)
        # The body is not read past the limit, so this connection closes after the answer.
        self.assert_error(self.fresh().request("POST", "/" + key, b"x" * 1001), 413,
                          "Value too large")
        self.assert_not_found(self.get(key + "-missing"))


class MemorySemanticsTest(SemanticsTests, ServerTestCase):
    SERVER_FLAGS = NO_RATE_LIMIT


class LmdbSemanticsTest(SemanticsTests, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super(ServerTestCase, cls).setUpClass()  # ServerTestCase's own would start a memory store
        cls.dir = tempfile.mkdtemp(prefix="rdv-semantics-")
        db = os.path.join(cls.dir, "store.db")
        cls.server = Server(*NO_RATE_LIMIT, base_flags=(
            "-port", "0", "-db", db, "-disableLocalIPWaring")).start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)


class RateLimitHeadersTest(ServerTestCase):
    """The original's defaults: 11 tokens, refilled over a minute (one every 5.45 s)."""

    SERVER_FLAGS = ("-maxRequests", "11", "-resetDuration", "1m")

    def request(self, method, target, body=None, client="198.51.100.20"):
        return self.conn.request(method, target, body, [("X-Forwarded-For", client)])

    def test_every_rate_limited_answer_says_what_is_left(self):
        client = "198.51.100.10"
        response = self.request("GET", "/missing", client=client)
        self.assert_not_found(response)
        self.assertEqual(response.header("RateLimit-Limit"), "11")
        self.assertEqual(response.header("RateLimit-Remaining"), "10")
        self.assertEqual(response.header("RateLimit-Reset"), "6")
        self.assertIsNone(response.header("Retry-After"))
        response = self.request("PUT", "/k", b"v", client=client)
        self.assert_ok(response)
        self.assertEqual(response.header("RateLimit-Remaining"), "7")
        self.assertIn(response.header("RateLimit-Reset"), ("21", "22"))
        for _ in range(7):
            self.request("GET", "/k", client=client)
        response = self.request("DELETE", "/k", client=client)
        self.assert_error(response, 429, "Rate limit")
        self.assertEqual(response.header("RateLimit-Limit"), "11")
        self.assertEqual(response.header("RateLimit-Remaining"), "0")
        self.assertIn(int(response.header("RateLimit-Reset")), range(55, 61))
        self.assertIn(int(response.header("Retry-After")), range(15, 18))

    def test_answers_that_cost_nothing_have_no_rate_limit_headers(self):
        for method, target in (("GET", "/"), ("OPTIONS", "/k"), ("GET", "/" + "k" * 101)):
            with self.subTest(method=method, target=target):
                response = self.request(method, target)
                self.assertIsNone(response.header("RateLimit-Limit"), response)


class LmdbRestartTest(unittest.TestCase):
    """ETags are store versions, kept in the file: stable across a restart, never reused."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rdv-semantics-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def server(self):
        """A server on this test's file, started by `with`."""
        return Server(*NO_RATE_LIMIT, base_flags=(
            "-port", "0", "-db", os.path.join(self.dir, "store.db"), "-disableLocalIPWaring"))

    def test_etags_survive_a_restart_and_are_not_reused(self):
        with self.server() as server:
            etags = {server.request("POST", "/k%d" % i, b"v").header("ETag") for i in range(5)}
            kept = server.request("POST", "/kept", b"v").header("ETag")
        with self.server() as server:
            response = server.request("GET", "/kept", headers=[("If-None-Match", kept)])
            self.assertEqual(response.status, 304, response)
            self.assertEqual(server.request("GET", "/kept").header("ETag"), kept)
            fresh = server.request("POST", "/new", b"v").header("ETag")
            self.assertNotIn(fresh, etags | {kept})
            response = server.request("PUT", "/kept", b"w", [("If-Match", kept)])
            self.assertEqual(response.status, 200, response)


if __name__ == "__main__":
    unittest.main()
