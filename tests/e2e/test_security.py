"""Abuse resistance (issue 4): request smuggling and RFC 9112 strictness. (Per-client limits:
/64 rotation, connection caps and slowloris are in test_limits.py.)

Smuggling: every refused request is sent in one write with a "smuggled" POST right behind it. The
server must answer the first one only (400, or 501 for a coding it does not decode, or 413 for a
chunk over the size limit), say and do Connection: close, and never run the smuggled POST (its key
stays missing), nor store the refused request's own body.

One exception, on purpose: an invalid percent-escape is an error about the key, not about framing,
so the stream is still in sync (docs/compatibility.md: it does not close); that test checks that the
next pipelined request is answered as itself instead.
"""

import math
import re
import selectors
import socket
import threading
import time
import unittest

from harness import (NO_RATE_LIMIT, SLOWDOWN, SOCKET_TIMEOUT_S, Conn, HttpTestCase, Server,
                     ServerTestCase, build_request)

HOST = b"Host: x\r\n"


def post_start(name, *header_lines):
    """Request line, Host and the given header lines of a POST that must never be stored."""
    return (b"POST /refused-" + name.encode() + b" HTTP/1.1\r\n" + HOST
            + b"".join(line + b"\r\n" for line in header_lines))


def chunked(name, chunks):
    """A chunked POST whose body part is `chunks` (raw bytes, sizes and all)."""
    return post_start(name, b"Transfer-Encoding: chunked") + b"\r\n" + chunks


def get(name, *header_lines, request_line=None):
    line = request_line or b"GET /refused-" + name.encode() + b" HTTP/1.1"
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in header_lines) + b"\r\n"


BAD = "Bad Request"
# (name, request bytes, status, body message). Each is refused and its connection closed.
REFUSED = [
    # Content-Length
    ("duplicate Content-Length lines that agree",
     post_start("cl-twice", b"Content-Length: 3", b"Content-Length: 3") + b"\r\nabc", 400, BAD),
    ("a Content-Length list that agrees",
     post_start("cl-list", b"Content-Length: 3, 3") + b"\r\nabc", 400, BAD),
    ("conflicting Content-Length lines",
     post_start("cl-conflict", b"Content-Length: 3", b"Content-Length: 4") + b"\r\nabcd", 400, BAD),
    ("a conflicting Content-Length list",
     post_start("cl-conflict-list", b"Content-Length: 3, 4") + b"\r\nabcd", 400, BAD),
    ("a Content-Length with a plus sign",
     post_start("cl-plus", b"Content-Length: +3") + b"\r\nabc", 400, BAD),
    ("a negative Content-Length",
     post_start("cl-negative", b"Content-Length: -3") + b"\r\nabc", 400, BAD),
    ("a hexadecimal Content-Length",
     post_start("cl-hex", b"Content-Length: 0x3") + b"\r\nabc", 400, BAD),
    ("a Content-Length past 64 bits",
     post_start("cl-overflow", b"Content-Length: 18446744073709551619") + b"\r\nabc", 400, BAD),
    ("an empty Content-Length",
     post_start("cl-empty", b"Content-Length: ") + b"\r\nabc", 400, BAD),
    ("a Content-Length with a space inside",
     post_start("cl-space", b"Content-Length: 1 2") + b"\r\nabc", 400, BAD),
    # Content-Length together with Transfer-Encoding, in either order
    ("Content-Length then Transfer-Encoding",
     post_start("cl-te", b"Content-Length: 5", b"Transfer-Encoding: chunked") + b"\r\n0\r\n\r\n",
     400, BAD),
    ("Transfer-Encoding then Content-Length",
     post_start("te-cl", b"Transfer-Encoding: chunked", b"Content-Length: 5") + b"\r\n0\r\n\r\n",
     400, BAD),
    ("Transfer-Encoding gzip with Content-Length",
     post_start("gzip-cl", b"Transfer-Encoding: gzip", b"Content-Length: 3") + b"\r\nabc", 400,
     BAD),
    # Transfer codings: chunked must be there, and last
    ("a final coding other than chunked",
     post_start("te-chunked-gzip", b"Transfer-Encoding: chunked, gzip") + b"\r\n0\r\n\r\n", 400,
     BAD),
    ("a coding without chunked", post_start("te-gzip", b"Transfer-Encoding: gzip") + b"\r\nabc",
     400, BAD),
    ("the identity coding",
     post_start("te-identity", b"Transfer-Encoding: identity") + b"\r\nabc", 400, BAD),
    ("an empty Transfer-Encoding",
     post_start("te-empty", b"Transfer-Encoding: ") + b"\r\nabc", 400, BAD),
    ("a coding that only starts like chunked",
     post_start("te-xchunked", b"Transfer-Encoding: xchunked") + b"\r\n0\r\n\r\n", 400, BAD),
    ("two Transfer-Encoding lines, chunked then gzip",
     post_start("te-two-lines", b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip")
     + b"\r\n0\r\n\r\n", 400, BAD),
    ("two Transfer-Encoding: chunked lines",
     post_start("te-chunked-twice", b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked")
     + b"\r\n0\r\n\r\n", 400, BAD),
    ("Transfer-Encoding with a vertical tab",
     post_start("te-vtab", b"Transfer-Encoding:\x0bchunked") + b"\r\n0\r\n\r\n", 400, BAD),
    ("Transfer-Encoding in an HTTP/1.0 keep-alive request",
     b"POST /refused-te-http10 HTTP/1.0\r\nConnection: keep-alive\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400, BAD),
    ("codings before a final chunked",
     post_start("te-gzip-chunked", b"Transfer-Encoding: gzip, chunked") + b"\r\n0\r\n\r\n", 501,
     "Not Implemented"),
    # Chunk sizes and chunk framing
    ("a chunk size that is not hexadecimal", chunked("chunk-zz", b"zz\r\nabc\r\n0\r\n\r\n"), 400,
     BAD),
    ("a chunk size past 64 bits",
     chunked("chunk-overflow", b"10000000000000000\r\nabc\r\n0\r\n\r\n"), 400, BAD),
    ("a negative chunk size", chunked("chunk-negative", b"-3\r\nabc\r\n0\r\n\r\n"), 400, BAD),
    ("a chunk size with a 0x prefix", chunked("chunk-0x", b"0x3\r\nabc\r\n0\r\n\r\n"), 400, BAD),
    ("a chunk size after a space", chunked("chunk-space", b" 3\r\nabc\r\n0\r\n\r\n"), 400, BAD),
    ("chunk data longer than its size",
     chunked("chunk-long", b"3\r\nabcdef\r\n0\r\n\r\n"), 400, BAD),
    ("chunk lines ended by bare LF", chunked("chunk-lf", b"3\nabc\n0\n\n"), 400, BAD),
    ("a bare CR in a chunk extension",
     chunked("chunk-ext-cr", b"3;a\rb\r\nabc\r\n0\r\n\r\n"), 400, BAD),
    ("Content-Length in the trailer",
     chunked("trailer-cl", b"3\r\nabc\r\n0\r\nContent-Length: 3\r\n\r\n"), 400, BAD),
    ("a chunk size over the value limit",
     chunked("chunk-huge", b"ffffffffffffffff\r\nabc\r\n0\r\n\r\n"), 413, "Value too large"),
    # Line folding and whitespace
    ("obsolete line folding", get("fold", HOST[:-2], b"X-A: a", b" b"), 400, BAD),
    ("obsolete line folding with a tab", get("fold-tab", HOST[:-2], b"X-A: a", b"\tb"), 400, BAD),
    ("a folded Transfer-Encoding",
     post_start("fold-te", b"Transfer-Encoding:", b" chunked") + b"\r\n0\r\n\r\n", 400, BAD),
    ("a folded Content-Length",
     post_start("fold-cl", b"Content-Length:", b" 3") + b"\r\nabc", 400, BAD),
    ("whitespace before a header colon",
     post_start("space-colon", b"Content-Length : 3") + b"\r\nabc", 400, BAD),
    ("a tab before a header colon",
     post_start("tab-colon", b"Content-Length\t: 3") + b"\r\nabc", 400, BAD),
    ("whitespace before the first header line", get("space-first", b" X-A: b", HOST[:-2]), 400,
     BAD),
    # Host
    ("HTTP/1.1 without Host", get("no-host"), 400, "Bad Request: missing required Host header"),
    ("an empty Host", get("empty-host", b"Host: "), 400,
     "Bad Request: missing required Host header"),
    ("two identical Host lines", get("two-hosts", HOST[:-2], HOST[:-2]), 400, BAD),
    ("two different Host lines", get("two-hosts-differ", b"Host: a", b"Host: b"), 400, BAD),
    # Bare CR / LF and other control bytes
    ("a request line ended by bare LF", b"GET /refused-lf HTTP/1.1\nHost: x\n\n", 400, BAD),
    ("a header line ended by bare LF", b"GET /refused-lf2 HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n",
     400, BAD),
    ("a header block ended by bare LF", b"GET /refused-lf3 HTTP/1.1\r\nHost: x\r\n\n", 400, BAD),
    ("a bare CR inside a header value", get("cr-value", HOST[:-2], b"X-A: a\rb"), 400, BAD),
    ("CR CR LF after a header", get("crcrlf", b"Host: x\r"), 400, BAD),
    ("a bare CR in the request target", b"GET /refused-cr\rx HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     BAD),
    ("a NUL in a header value", get("nul", HOST[:-2], b"X-A: a\x00b"), 400, BAD),
    # Request line
    ("two spaces after the method", b"GET  /refused-sp HTTP/1.1\r\nHost: x\r\n\r\n", 400, BAD),
    ("a space after the version", b"GET /refused-ver HTTP/1.1 \r\nHost: x\r\n\r\n", 400, BAD),
    ("a lower-case HTTP version", b"GET /refused-ver2 http/1.1\r\nHost: x\r\n\r\n", 400, BAD),
    # Request-target forms that name no key
    ("an asterisk-form GET", get("", HOST[:-2], request_line=b"GET * HTTP/1.1"), 400,
     "Bad Request: unsupported request target"),
    ("an asterisk-form POST",
     b"POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 400,
     "Bad Request: unsupported request target"),
    ("an authority-form target",
     get("", b"Host: example.org:443", request_line=b"CONNECT example.org:443 HTTP/1.1"), 400,
     "Bad Request: unsupported request target"),
]


class SmugglingTest(ServerTestCase):
    """Each refused request: one answer, Connection: close, the close, and nothing run after."""

    def assert_refused(self, name, data, status, message):
        smuggled_key = "/smuggled-%s" % name.replace(" ", "-")
        conn = self.fresh()
        conn.send(data + build_request("POST", smuggled_key, b"pwned", host="x"))
        response = conn.read_response()
        self.assert_error(response, status, message)
        self.assertEqual(response.header("Connection"), "close", response)
        self.assert_closed(conn)
        self.assert_not_found(self.conn.request("GET", smuggled_key))

    def test_every_smuggling_and_strictness_case_is_refused_and_closes(self):
        for name, data, status, message in REFUSED:
            with self.subTest(name, request=data):
                self.assert_refused(name, data, status, message)
        # None of the refused requests stored anything either.
        for name, data, _, _ in REFUSED:
            path = data.split(b" ")[1]
            if re.fullmatch(rb"/refused-[a-z0-9-]+", path):
                with self.subTest("nothing stored for " + name):
                    self.assert_not_found(self.conn.request("GET", path.decode("latin-1")))

    def test_the_same_cases_fed_one_byte_at_a_time_are_refused_too(self):
        # The parser sees the bytes in other cuts; a sample of the framing cases.
        sample = [case for case in REFUSED
                  if case[0] in ("duplicate Content-Length lines that agree",
                                 "Content-Length then Transfer-Encoding", "obsolete line folding",
                                 "a folded Transfer-Encoding", "a chunk size past 64 bits",
                                 "Transfer-Encoding in an HTTP/1.0 keep-alive request")]
        self.assertEqual(len(sample), 6)
        for name, data, status, message in sample:
            with self.subTest(name):
                smuggled_key = "/smuggled-slow-%s" % name.replace(" ", "-")
                conn = self.fresh()
                # The server may close before the last byte: send_slowly then stops early.
                conn.send_slowly(data + build_request("POST", smuggled_key, b"pwned", host="x"))
                self.assert_error(conn.read_response(), status, message)
                self.assert_closed(conn)
                self.assert_not_found(self.conn.request("GET", smuggled_key))

    def test_trailer_fields_cannot_choose_the_client_address(self):
        # A proxy that forwards trailers (Go's, so Caddy's) would otherwise let a client append
        # an X-Forwarded-For entry right of the proxy's, and pick its own address and bucket.
        name = "/ip/" + self.key()
        request = (b"POST " + name.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                   b"X-Forwarded-For: 203.0.113.7\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3\r\nabc\r\n0\r\nX-Forwarded-For: 198.51.100.66\r\n\r\n")
        self.conn.send(request)
        self.assert_ok(self.conn.read_response(), "203.0.113.7")
        self.assert_value(self.conn.request("GET", "/ip/203.0.113.7/" + self.key()), b"abc")

    def test_an_invalid_percent_escape_is_400_and_the_stream_stays_in_sync(self):
        for target in ("/a%zz", "/a%", "/a%4", "/%g0", "/a%%41"):
            with self.subTest(target=target):
                follow = "/%s-%d" % (self.key(), len(target))
                self.conn.send(self.conn.build("GET", target)
                               + self.conn.build("POST", follow, b"in sync"))
                responses = [self.conn.read_response(), self.conn.read_response()]
                self.assert_error(responses[0], 400, "Bad Request: invalid percent-encoding")
                self.assert_ok(responses[1])
                self.assert_value(self.conn.request("GET", follow), b"in sync")

    def test_absolute_form_is_accepted_with_the_path_as_the_key_and_the_host_ignored(self):
        key = self.key()
        self.assert_ok(self.conn.request("POST", "http://other.example:8080/%s?q=1" % key, b"abs"))
        self.assert_value(self.conn.request("GET", "/" + key), b"abs")
        self.assert_value(self.conn.request("GET", "HTTPS://elsewhere.example/" + key), b"abs")
        self.assert_open(self.conn)


if __name__ == "__main__":
    unittest.main()
