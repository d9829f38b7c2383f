"""The public API, case by case as the original server answered it, as rendezvous answers it.

Where docs/compatibility.md changes the original's answer, the test asserts ours and says so.
Cases tested elsewhere: owner secrets and /ip/ keys (test_owners), connections (test_connection),
the client address (test_client_ip), rate limiting (test_ratelimit).
"""

import email.utils
import gzip
import time
import unittest

from harness import NO_RATE_LIMIT, SLOWDOWN, Server, ServerTestCase, build_request, pipeline


class IndexPageTest(ServerTestCase):
    """the index page at `/` (our own page; gzip only on request)."""

    def get_index(self, target="/", accept_encoding=None, host=None):
        headers = [("Accept-Encoding", accept_encoding)] if accept_encoding else []
        return self.conn.request("GET", target, headers=headers, host=host)

    def test_get_index_is_uncompressed_html_with_vary_when_gzip_is_not_accepted(self):
        response = self.get_index()
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.header("Content-Type"), "text/html; charset=utf-8")
        self.assertIsNone(response.header("Content-Encoding"), response)
        self.assertEqual(response.header("Vary"), "Accept-Encoding")
        self.assert_common_headers(response)
        self.assertIn(b"<html", response.body.lower())
        response = self.get_index(accept_encoding="identity")
        self.assertIsNone(response.header("Content-Encoding"), response)

    def test_get_index_is_gzip_when_accepted_and_inflates_to_the_same_page(self):
        plain = self.get_index()
        for accept in ("gzip", "gzip, deflate, br", "deflate, gzip"):
            with self.subTest(accept_encoding=accept):
                response = self.get_index(accept_encoding=accept)
                self.assertEqual(response.status, 200, response)
                self.assertEqual(response.header("Content-Encoding"), "gzip", response)
                self.assertEqual(response.header("Content-Type"), "text/html; charset=utf-8")
                self.assertEqual(response.header("Vary"), "Accept-Encoding")
                self.assert_common_headers(response)
                self.assertEqual(gzip.decompress(response.body), plain.body)

    def test_index_ignores_the_query_string(self):
        plain = self.get_index()
        response = self.get_index("/?x=1")
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.body, plain.body)

    def test_head_index_has_the_get_headers_and_no_body(self):
        plain = self.get_index()
        requests = [self.conn.build("HEAD", "/"), self.conn.build("GET", "/" + self.key("after"))]
        head, after = pipeline(self.conn, requests, head_flags=[True, False])
        self.assertEqual(head.status, 200, head)
        self.assertEqual(head.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(head.header("Content-Length"), str(len(plain.body)))
        self.assertEqual(head.header("Vary"), "Accept-Encoding")
        self.assert_not_found(after)  # no body bytes were sent between the two

    def test_other_methods_on_index_are_405_allowing_get_head_and_options(self):
        for method, body in (("POST", b"hello"), ("PUT", b"hello"), ("DELETE", None),
                             ("PATCH", b"x"), ("post", b"hello")):
            with self.subTest(method=method):
                response = self.conn.request(method, "/", body)
                self.assert_method_not_allowed(response, allow="GET, HEAD, OPTIONS")
        # OPTIONS is a CORS preflight (issue 6): 204 with the allowed methods.
        response = self.conn.request("OPTIONS", "/")
        self.assertEqual(response.status, 204, response)
        self.assertEqual(response.header("Allow"), "GET, HEAD, OPTIONS", response)
        self.assertEqual(self.get_index().status, 200)

    def test_index_uses_the_host_the_client_used(self):
        response = self.get_index(host="kv.example.test:8123")
        self.assertEqual(response.status, 200, response)
        self.assertIn(b"kv.example.test:8123", response.body)

    def test_index_does_not_reflect_a_hostile_host_header_as_markup(self):
        response = self.fresh().request("GET", "/", host="x<script>alert(1)</script>")
        if response.status == 200:
            self.assertNotIn(b"<script>alert(1)</script>", response.body)
        else:
            self.assertEqual(response.status, 400, response)


class IndexShowsConfiguredLimitsTest(unittest.TestCase):
    def test_index_shows_the_configured_key_and_value_limits(self):
        with Server(*NO_RATE_LIMIT, "-maxKeySize", "177", "-maxValueSize", "4321") as server:
            response = server.request("GET", "/")
            self.assertEqual(response.status, 200, response)
            self.assertIn(b"177", response.body)
            self.assertIn(b"4321", response.body)


class KeyValueTest(ServerTestCase):
    """storing and reading values; how paths become keys."""

    def post(self, path, body, headers=(), conn=None):
        return (conn or self.conn).request("POST", path, body, headers)

    def get(self, path, conn=None):
        return (conn or self.conn).request("GET", path)

    def test_post_then_get_round_trips_the_value(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b"hello world"))
        self.assert_value(self.get(path), b"hello world")

    def test_get_of_a_missing_key_is_404(self):
        self.assert_not_found(self.get("/" + self.key()))

    def test_a_key_of_exactly_max_key_size_bytes_is_accepted(self):
        path = "/" + ("r7" + "a" * 98)
        self.assert_ok(self.post(path, b"v100"))
        self.assert_value(self.get(path), b"v100")

    def test_a_key_one_byte_too_long_is_400_for_post_and_get(self):
        path = "/" + ("r8" + "a" * 99)
        self.assert_error(self.post(path, b"x"), 400, "Key too long")
        self.assert_error(self.get(path), 400, "Key too long")

    def test_key_length_is_counted_after_percent_decoding(self):
        path = "/%20" + "c" * 98  # 102 characters on the wire, 99 bytes decoded
        self.assert_ok(self.post(path, b"spaced"))
        self.assert_value(self.get(path), b"spaced")
        self.assert_ok(self.post("/" + "%C3%A9" * 50, b"e50"))  # 100 bytes
        self.assert_value(self.get("/" + "%c3%a9" * 50), b"e50")
        self.assert_error(self.post("/" + "%C3%A9" * 51, b"e51"), 400, "Key too long")

    def test_a_value_of_exactly_max_value_size_is_stored(self):
        path, value = "/" + self.key(), bytes(range(256)) * 3 + b"v" * 232
        self.assertEqual(len(value), 1000)
        self.assert_ok(self.post(path, value))
        self.assert_value(self.get(path), value)

    def test_a_value_over_max_value_size_is_413_closes_and_creates_nothing(self):
        # Ours: 413 (the original said 400) and the connection is closed after the answer.
        for size in (1001, 5000):
            with self.subTest(size=size):
                path = "/" + self.key(str(size))
                conn = self.fresh()
                self.assert_error(self.post(path, b"x" * size, conn=conn), 413, "Value too large")
                self.assert_closed(conn)
                self.assert_not_found(self.get(path))

    def test_an_oversize_update_keeps_the_old_value(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b"old"))
        conn = self.fresh()
        self.assert_error(self.post(path, b"y" * 1001, conn=conn), 413, "Value too large")
        self.assert_closed(conn)
        self.assert_value(self.get(path), b"old")

    def test_an_empty_value_is_stored(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b""))
        self.assert_value(self.get(path), b"")

    def test_post_without_body_or_content_length_stores_an_empty_value(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, None))
        self.assert_value(self.get(path), b"")

    def test_percent_encoded_space_is_part_of_the_key_and_plus_is_not_a_space(self):
        self.assert_ok(self.post("/r44a%20b", b"space"))
        self.assert_value(self.get("/r44a%20b"), b"space")
        self.assert_not_found(self.get("/r44a+b"))

    def test_a_raw_space_in_the_request_line_is_400_and_closes(self):
        conn = self.fresh()
        conn.send(b"GET /r44a b HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assert_error(conn.read_response(), 400, "Bad Request")
        self.assert_closed(conn)

    def test_encoded_slash_and_slash_are_the_same_key(self):
        self.assert_ok(self.post("/r45a%2Fb", b"encslash"))
        self.assert_value(self.get("/r45a/b"), b"encslash")
        self.assert_value(self.get("/r45a%2Fb"), b"encslash")
        self.assert_value(self.get("/r45a%2fb"), b"encslash")

    def test_the_query_string_is_ignored(self):
        self.assert_ok(self.post("/r46qk?x=1", b"withquery"))
        self.assert_value(self.get("/r46qk"), b"withquery")
        self.assert_value(self.get("/r46qk?y=2"), b"withquery")

    def test_an_encoded_hash_is_part_of_the_key(self):
        self.assert_ok(self.post("/r47h%23x", b"hash"))
        self.assert_value(self.get("/r47h%23x"), b"hash")
        self.assert_not_found(self.get("/r47h"))

    def test_a_double_slash_is_kept_without_cleaning_or_redirect(self):
        self.assert_ok(self.post("//r48dk", b"dslash"))
        self.assert_value(self.get("//r48dk"), b"dslash")
        self.assert_not_found(self.get("/r48dk"))
        self.assert_ok(self.post("//", b"slash"))  # key "/"
        self.assert_value(self.get("//"), b"slash")

    def test_dot_segments_are_stored_literally(self):
        self.assert_ok(self.post("/r49x/../y", b"dots"))
        self.assert_value(self.get("/r49x/../y"), b"dots")
        self.assert_not_found(self.get("/y"))

    def test_a_trailing_slash_is_part_of_the_key(self):
        self.assert_ok(self.post("/r50ts/", b"trail"))
        self.assert_not_found(self.get("/r50ts"))
        self.assert_value(self.get("/r50ts/"), b"trail")

    def test_an_invalid_percent_escape_is_400(self):
        # Ours: an application error with its own text (the original: Go-level "400 Bad Request").
        for path in ("/bad%zz", "/bad%2", "/bad%", "/bad%g1", "/%"):
            for method in ("GET", "POST"):
                with self.subTest(path=path, method=method):
                    body = b"x" if method == "POST" else None
                    response = self.fresh().request(method, path, body)
                    self.assert_error(response, 400, "Bad Request: invalid percent-encoding")

    def test_a_utf8_key_is_the_same_encoded_or_raw(self):
        self.assert_ok(self.post("/%D0%BA%D0%BB%D1%8E%D1%87r52", b"utf8"))
        self.assert_value(self.get("/ключr52"), b"utf8")

    def test_absolute_form_target_ignores_the_uri_host(self):
        self.assert_ok(self.conn.request("POST", "http://otherhost/r60ak", b"absolute"))
        self.assert_value(self.get("/r60ak"), b"absolute")
        self.assert_value(self.conn.request("GET", "http://another/r60ak"), b"absolute")

    def test_control_bytes_are_allowed_in_keys(self):
        self.assert_not_found(self.get("/%00"))
        self.assert_ok(self.post("/r63%00%01%7F", b"ctl"))
        self.assert_value(self.get("/r63%00%01%7F"), b"ctl")

    def test_a_binary_body_round_trips_byte_for_byte(self):
        value = bytes.fromhex("61 00 62 00 00 63 ff fe 0d 0a 01 65 6e 64")
        path = "/" + self.key()
        self.assert_ok(self.post(path, value))
        self.assert_value(self.get(path), value)

    def test_the_request_content_type_is_ignored(self):
        path = "/" + self.key()
        body = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--\r\n"
        self.assert_ok(self.post(path, body, [("Content-Type", "multipart/form-data; boundary=b")]))
        self.assert_value(self.get(path), body)

    def test_get_returns_octet_stream_even_for_html_values(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b"<html><script>x</script></html>"))
        self.assert_value(self.get(path), b"<html><script>x</script></html>")


class ExpiresAgreesWithDateTest(ServerTestCase):
    def test_a_write_with_x_ttl_60_shows_expires_minus_date_of_60_seconds(self):
        # The Date header is cached once a second; Expires must come from the same second. Writes
        # spread over more than a second cross a tick of that cache.
        for i in range(12):
            with self.subTest(write=i):
                response = self.conn.request("POST", "/" + self.key(str(i)), b"v",
                                             headers=[("X-TTL", "60")])
                self.assertEqual(response.status, 200, response)
                date = email.utils.parsedate_to_datetime(response.header("Date"))
                expires = email.utils.parsedate_to_datetime(response.header("Expires"))
                self.assertEqual((expires - date).total_seconds(), 60, response)
                self.assertEqual(response.header("X-Expires-In"), "60", response)
            time.sleep(0.15)


class ChunkedBodyTest(ServerTestCase):
    """chunked request bodies, bounded like any other body."""

    def test_a_chunked_body_is_stored(self):
        path = "/" + self.key()
        response = self.conn.request("POST", path, [b"chunked", b"-", b"body"], chunked=True)
        self.assert_ok(response)
        self.assert_value(self.conn.request("GET", path), b"chunked-body")

    def test_a_chunked_body_of_exactly_max_value_size_is_stored(self):
        path = "/" + self.key()
        self.assert_ok(self.conn.request("POST", path, [b"a" * 600, b"b" * 400], chunked=True))
        self.assert_value(self.conn.request("GET", path), b"a" * 600 + b"b" * 400)

    def test_a_chunked_body_over_max_value_size_is_413_and_closes(self):
        # Ours: 413 (the original: 400).
        for pieces in ([b"c" * 1001], [b"c" * 600, b"d" * 401]):
            with self.subTest(chunks=[len(p) for p in pieces]):
                path = "/" + self.key(str(len(pieces)))
                conn = self.fresh()
                response = conn.request("POST", path, pieces, chunked=True)
                self.assert_error(response, 413, "Value too large")
                self.assert_closed(conn)
                self.assert_not_found(self.conn.request("GET", path))


class MethodTest(ServerTestCase):
    """methods on a key. Ours: GET, HEAD, POST, PUT, DELETE, OPTIONS (issue 6); anything
    else is 405 with Allow."""

    def setUp(self):
        super().setUp()
        self.path = "/" + self.key()
        self.assert_ok(self.conn.request("POST", self.path, b"kept"))

    def test_put_stores_like_post(self):
        # Ours: PUT is POST (issue 6; the original answered 200 and changed nothing).
        self.assert_ok(self.conn.request("PUT", self.path, b"changed"))
        self.assert_value(self.conn.request("GET", self.path), b"changed")

    def test_delete_deletes(self):
        # Ours: 204 and the key is gone (issue 6; the original answered 200 and deleted nothing).
        response = self.conn.request("DELETE", self.path)
        self.assertEqual(response.status, 204, response)
        self.assert_not_found(self.conn.request("GET", self.path))

    def test_head_is_get_without_the_body(self):
        requests = [self.conn.build("HEAD", self.path), self.conn.build("HEAD", self.path + "-no"),
                    self.conn.build("GET", self.path)]
        head, head_missing, get = pipeline(self.conn, requests, head_flags=[True, True, False])
        # Ours: HEAD answers like GET (the original: always 200, no Content-Length).
        self.assertEqual(head.status, 200, head)
        self.assertEqual(head.header("Content-Type"), "application/octet-stream", head)
        self.assertEqual(head.header("Content-Length"), "4", head)
        self.assertIsNotNone(head.header("Date"), head)
        self.assertEqual(head_missing.status, 404, head_missing)
        self.assertEqual(head_missing.header("Content-Type"), "text/plain; charset=utf-8")
        self.assert_value(get, b"kept")  # nothing was sent after either HEAD's headers

    def test_other_methods_are_405_with_allow(self):
        for method in ("PATCH", "FOO", "TRACE"):
            with self.subTest(method=method):
                self.assert_method_not_allowed(self.conn.request(method, self.path))
        # OPTIONS is a CORS preflight (issue 6): 204, and it changes nothing.
        response = self.conn.request("OPTIONS", self.path)
        self.assertEqual(response.status, 204, response)
        self.assertEqual(response.header("Allow"), "GET, HEAD, POST, PUT, DELETE, OPTIONS")
        self.assert_value(self.conn.request("GET", self.path), b"kept")

    def test_method_names_are_case_sensitive(self):
        path = "/" + self.key("-lower")
        self.assert_method_not_allowed(self.conn.request("post", path, b"x"))
        self.assert_method_not_allowed(self.conn.request("get", self.path))
        self.assert_not_found(self.conn.request("GET", path))


class RequestTargetTest(ServerTestCase):
    """request-target forms and the Host header."""

    def raw(self, data):
        conn = self.fresh()
        conn.send(data)
        return conn.read_response()

    def test_asterisk_form_is_400(self):
        # Ours: 400 (the original stored the key "*"); only "OPTIONS *" is answered (204, in
        # test_connection).
        for method, body in (("POST", b"abc"), ("GET", None)):
            with self.subTest(method=method):
                response = self.raw(build_request(method, "*", body, host="x"))
                self.assert_error(response, 400, "Bad Request: unsupported request target")

    def test_absolute_form_with_an_empty_path_is_key_required(self):
        self.assert_error(self.raw(build_request("GET", "http://x", host="x")), 400,
                          "Key is required")

    def test_authority_form_connect_is_400(self):
        response = self.raw(build_request("CONNECT", "host:443", host="host:443"))
        self.assert_error(response, 400, "Bad Request: unsupported request target")

    def test_http11_without_host_is_400(self):
        response = self.raw(build_request("GET", "/r61ak", host=""))
        self.assert_error(response, 400, "Bad Request: missing required Host header")

    def test_http10_without_host_is_served(self):
        self.assert_ok(self.conn.request("POST", "/r61ak10", b"ten"))
        response = self.raw(build_request("GET", "/r61ak10", version="1.0", host=""))
        self.assert_value(response, b"ten")

    def test_a_target_without_leading_slash_is_400(self):
        self.assert_error(self.raw(build_request("GET", "ak", host="x")), 400, "Bad Request")


class ExpectContinueTest(ServerTestCase):
    """(also in test_connection): Expect: 100-continue."""

    def test_expect_100_continue_gets_100_then_200(self):
        path = "/" + self.key()
        body = b"e" * 1000
        head = self.conn.build("POST", path, headers=[("Expect", "100-continue")],
                               content_length=len(body))
        self.conn.send(head)
        interim = self.conn.read_response(timeout=3.0 * SLOWDOWN)
        self.assertEqual(interim.status, 100, interim)
        self.conn.send(body)
        self.assert_ok(self.conn.read_response())
        self.assert_value(self.conn.request("GET", path), body)


class CapacityTest(ServerTestCase):
    """-maxNumKV bounds new keys; updates and claims still work when full."""

    SERVER_FLAGS = NO_RATE_LIMIT + ("-maxNumKV", "3")

    def test_a_full_store_refuses_new_keys_but_allows_updates_and_claims(self):
        conn = self.conn
        for key in ("k1", "k2", "k3"):
            self.assert_ok(conn.request("POST", "/" + key, key.encode()))
        self.assert_error(conn.request("POST", "/k4", b"k4"), 507, "Store capacity reached")
        self.assert_not_found(conn.request("GET", "/k4"))
        self.assert_ok(conn.request("POST", "/k1", b"k1-updated"))
        self.assert_value(conn.request("GET", "/k1"), b"k1-updated")
        self.assert_ok(conn.request("POST", "/k2", b"k2-claimed", [("X-Owner-Secret", "s")]))
        self.assert_error(conn.request("POST", "/k2", b"x"), 403, "Forbidden: Incorrect secret")
        self.assert_error(conn.request("POST", "/ip/x", b"ip"), 507, "Store capacity reached")
        # The size is checked before the capacity.
        self.assert_error(self.fresh().request("POST", "/k5", b"o" * 1001), 413,
                          "Value too large")
        self.assert_value(conn.request("GET", "/k3"), b"k3")


class ErrorShapeTest(ServerTestCase):
    """docs/compatibility.md: every response has Date and Content-Length."""

    def test_every_kind_of_response_has_date_and_content_length(self):
        path = "/" + self.key()
        responses = [
            self.conn.request("POST", path, b"v"),
            self.conn.request("GET", path),
            self.conn.request("GET", path + "-missing"),
            self.conn.request("PUT", path, b"v"),
            self.conn.request("GET", "/"),
            self.conn.request("POST", "/"),
            self.conn.request("GET", "/" + "a" * 101),
        ]
        for response in responses:
            with self.subTest(status=response.status):
                self.assert_common_headers(response)
                self.assertNotIn("close", (response.header("Connection") or "").lower())


if __name__ == "__main__":
    unittest.main()
