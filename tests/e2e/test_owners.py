"""Owner secrets and `/ip/` keys, as the original server answered them and as rendezvous answers.

Split from test_api.py along the API's own seam: who may write a key. Where docs/compatibility.md
changes the original's answer, the test asserts ours and says so.
"""

import unittest

from harness import NO_RATE_LIMIT, SLOWDOWN, Server, ServerTestCase, build_request, pipeline


class SecretTest(ServerTestCase):
    """ownership with X-Owner-Secret, and the size limit on value + secret."""

    def post(self, path, body, secret=None, headers=(), conn=None):
        headers = list(headers)
        if secret is not None:
            headers.insert(0, ("X-Owner-Secret", secret))
        return (conn or self.conn).request("POST", path, body, headers)

    def get(self, path):
        return self.conn.request("GET", path)

    def owned(self, value=b"v1", secret="s3cret"):
        path = "/" + self.key()
        self.assert_ok(self.post(path, value, secret))
        return path

    def test_the_owner_updates_with_the_same_secret(self):
        path = self.owned()
        self.assert_value(self.get(path), b"v1")
        self.assert_ok(self.post(path, b"v2", "s3cret"))
        self.assert_value(self.get(path), b"v2")

    def test_a_wrong_secret_is_403_and_keeps_the_value(self):
        path = self.owned()
        self.assert_error(self.post(path, b"v2", "wrong"), 403, "Forbidden: Incorrect secret")
        self.assert_value(self.get(path), b"v1")

    def test_no_secret_on_an_owned_key_is_403(self):
        path = self.owned()
        self.assert_error(self.post(path, b"v2"), 403, "Forbidden: Incorrect secret")
        self.assert_value(self.get(path), b"v1")

    def test_an_empty_secret_header_counts_as_no_secret(self):
        path = self.owned()
        self.assert_error(self.post(path, b"v2", ""), 403, "Forbidden: Incorrect secret")
        self.assert_value(self.get(path), b"v1")

    def test_whitespace_around_the_secret_is_trimmed(self):
        path = self.owned()
        self.assert_ok(self.post(path, b"v2", "   s3cret   "))
        self.assert_value(self.get(path), b"v2")

    def test_the_secret_header_name_is_case_insensitive(self):
        path = self.owned()
        self.assert_ok(self.post(path, b"v2", headers=[("x-owner-secret", "s3cret")]))
        self.assert_value(self.get(path), b"v2")

    def test_only_the_first_secret_header_line_counts(self):
        path = self.owned()
        both = [("X-Owner-Secret", "s3cret"), ("X-Owner-Secret", "wrong")]
        self.assert_ok(self.post(path, b"v2", headers=both))
        self.assert_error(self.post(path, b"v3", headers=both[::-1]), 403,
                          "Forbidden: Incorrect secret")
        self.assert_value(self.get(path), b"v2")

    def test_a_secret_claims_an_unowned_key(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b"free"))
        self.assert_ok(self.post(path, b"claimed", "claim"))
        self.assert_error(self.post(path, b"x"), 403, "Forbidden: Incorrect secret")
        self.assert_error(self.post(path, b"x", "other"), 403, "Forbidden: Incorrect secret")
        self.assert_ok(self.post(path, b"mine", "claim"))
        self.assert_value(self.get(path), b"mine")

    def test_size_is_checked_before_the_secret(self):
        # Ours: 413 (the original: 400), same text; the oversize body closes the connection.
        path = self.owned()
        conn = self.fresh()
        response = self.post(path, b"z" * 1001, "wrong", conn=conn)
        self.assert_error(response, 413, "Value plus secret too large")
        self.assert_closed(conn)
        self.assert_error(self.post(path, b"small", "wrong"), 403, "Forbidden: Incorrect secret")
        self.assert_value(self.get(path), b"v1")

    def test_secret_plus_value_of_exactly_max_value_size_is_accepted(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b"v" * 990, "s" * 10))
        self.assert_value(self.get(path), b"v" * 990)

    def test_secret_plus_value_one_over_is_413_and_creates_nothing(self):
        path = "/" + self.key()
        self.assert_error(self.post(path, b"v" * 991, "s" * 10, conn=self.fresh()), 413,
                          "Value plus secret too large")
        self.assert_not_found(self.get(path))

    def test_a_max_size_secret_with_an_empty_body_is_accepted(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b"", "s" * 1000))
        self.assert_value(self.get(path), b"")

    def test_a_max_size_secret_with_one_body_byte_is_413(self):
        path = "/" + self.key()
        self.assert_error(self.post(path, b"x", "s" * 1000, conn=self.fresh()), 413,
                          "Value plus secret too large")
        self.assert_not_found(self.get(path))

    def test_secret_999_plus_one_body_byte_is_accepted(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b"x", "s" * 999))
        self.assert_value(self.get(path), b"x")

    def test_a_secret_over_max_value_size_is_413_even_with_an_empty_body(self):
        for size in (1001, 7000):
            with self.subTest(secret_bytes=size):
                path = "/" + self.key(str(size))
                self.assert_error(self.post(path, b"", "s" * size, conn=self.fresh()), 413,
                                  "Value plus secret too large")
                self.assert_not_found(self.get(path))

    def test_the_secret_sent_counts_against_the_limit_on_updates(self):
        path = "/" + self.key()
        self.assert_ok(self.post(path, b"unowned"))
        self.assert_error(self.post(path, b"w" * 1000, "s" * 10, conn=self.fresh()), 413,
                          "Value plus secret too large")
        self.assert_value(self.get(path), b"unowned")
        self.assert_ok(self.post(path, b"still unowned"))  # the failed claim registered nothing

    def test_a_header_block_over_8_kib_is_431_and_closes(self):
        conn = self.fresh()
        response = self.post("/" + self.key(), b"x", "s" * 13000, conn=conn)
        self.assert_error(response, 431, "Request Header Fields Too Large")
        self.assert_closed(conn)


class IpKeyTest(ServerTestCase):
    """POST /ip/<name> stores under ip/<client>/<name> and answers the client address."""

    def post(self, path, body=b"v"):
        return self.conn.request("POST", path, body)

    def get(self, path):
        return self.conn.request("GET", path)

    def test_post_ip_name_stores_under_the_client_address(self):
        self.assert_ok(self.post("/ip/r33service1", b"my-server-info"), "127.0.0.1")
        self.assert_value(self.get("/ip/127.0.0.1/r33service1"), b"my-server-info")
        # Ours: GET /ip/NAME reads the client's own key (the original read the literal "ip/NAME").
        self.assert_value(self.get("/ip/r33service1"), b"my-server-info")
        self.assertEqual(self.conn.request("DELETE", "/ip/r33service1").status, 204)
        self.assert_not_found(self.get("/ip/127.0.0.1/r33service1"))

    def test_post_ip_slash_without_a_name_is_400(self):
        # Ours: 400 (the original stored the literal key "ip/").
        self.assert_error(self.post("/ip/", b"ipslash"), 400, "Name is required after /ip/")
        # Ours: GET /ip/ answers the client's address.
        self.assert_ok(self.get("/ip/"), "127.0.0.1")

    def test_post_ip_without_slash_is_an_ordinary_key(self):
        self.assert_ok(self.post("/ip", b"plain-ip"))
        self.assert_value(self.get("/ip"), b"plain-ip")

    def test_a_name_may_contain_slashes(self):
        self.assert_ok(self.post("/ip/r37a/b/c", b"abc"), "127.0.0.1")
        self.assert_value(self.get("/ip/127.0.0.1/r37a/b/c"), b"abc")

    def test_a_client_cannot_write_under_another_address(self):
        self.assert_ok(self.post("/ip/1.2.3.4/r38x", b"spoof"), "127.0.0.1")
        self.assert_value(self.get("/ip/127.0.0.1/1.2.3.4/r38x"), b"spoof")
        self.assert_not_found(self.get("/ip/1.2.3.4/r38x"))

    def test_the_ip_prefix_is_case_sensitive(self):
        self.assert_ok(self.post("/IP/r39service1", b"upper"))
        self.assert_value(self.get("/IP/r39service1"), b"upper")

    def test_an_encoded_slash_after_ip_is_rewritten(self):
        self.assert_ok(self.post("/ip%2Fr40svc", b"enc"), "127.0.0.1")
        self.assert_value(self.get("/ip/127.0.0.1/r40svc"), b"enc")

    def test_the_final_key_must_fit_so_every_created_key_is_readable(self):
        # Ours: the original accepted the POST and created a key that GET refused (113 bytes).
        prefix = "ip/127.0.0.1/"  # 13 bytes
        fits = "r41" + "f" * (100 - len(prefix) - 3)
        self.assert_ok(self.post("/ip/" + fits, b"fits"), "127.0.0.1")
        self.assert_value(self.get("/" + prefix + fits), b"fits")
        self.assert_error(self.post("/ip/" + fits + "g", b"long"), 400, "Key too long")
        self.assert_error(self.post("/ip/" + "r41" + "h" * 94, b"long"), 400, "Key too long")

    def test_an_empty_path_segment_is_kept(self):
        self.assert_ok(self.post("/ip//r42x", b"dbl"), "127.0.0.1")
        self.assert_value(self.get("/ip/127.0.0.1//r42x"), b"dbl")

    def test_put_is_rewritten_like_post(self):
        # Ours: PUT is POST (issue 6; the original answered 200 and stored nothing).
        self.assert_ok(self.conn.request("PUT", "/ip/r43svc3", b"x"), "127.0.0.1")
        self.assert_value(self.get("/ip/127.0.0.1/r43svc3"), b"x")

    def test_an_ip_key_can_be_owned_like_any_other(self):
        headers = [("X-Owner-Secret", "mine")]
        self.assert_ok(self.conn.request("POST", "/ip/ownedsvc", b"a", headers), "127.0.0.1")
        self.assert_error(self.post("/ip/ownedsvc", b"b"), 403, "Forbidden: Incorrect secret")
        self.assert_value(self.get("/ip/127.0.0.1/ownedsvc"), b"a")


if __name__ == "__main__":
    unittest.main()
