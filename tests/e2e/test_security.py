"""Abuse resistance (issue 4): request smuggling and RFC 9112 strictness, IPv6 /64 rotation,
connection caps, and a slowloris run with a normal client timed alongside.

Smuggling: every refused request is sent in one write with a "smuggled" POST right behind it. The
server must answer the first one only (400, or 501 for a coding it does not decode, or 413 for a
chunk over the size limit), say and do Connection: close, and never run the smuggled POST (its key
stays missing), nor store the refused request's own body.

One exception, on purpose: an invalid percent-escape is an error about the key, not about framing,
so the stream is still in sync (docs/compatibility.md: it does not close); that test checks that the
next pipelined request is answered as itself instead.

Connections are made from chosen loopback addresses (127.0.0.0/8 is all loopback on Linux), and the
per-client cap tests run with -trustedProxies "" because trusted proxies (loopback by default) are
exempt from it. The server accepts a connection only once bytes arrive (TCP_DEFER_ACCEPT), so every
connection that must count sends a request first.
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
    ("an asterisk-form target", get("", HOST[:-2], request_line=b"OPTIONS * HTTP/1.1"), 400,
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


class BoundConn(Conn):
    """A Conn whose socket is bound to `source` (a loopback address) before it connects."""

    def __init__(self, server, source):  # pylint: disable=super-init-not-called
        self.host_header = server.authority
        self.timeout = SOCKET_TIMEOUT_S
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.timeout)
        self.sock.bind((source, 0))
        self.sock.connect((server.host, server.port))
        self.buf = bytearray()
        self.eof = False


class ServerPerTest(HttpTestCase):

    def start(self, *flags):
        self.server = Server(*flags).start()
        self.addCleanup(self.server.stop)
        return self.server

    def connect_from(self, source):
        conn = BoundConn(self.server, source)
        self.addCleanup(conn.close)
        return conn

    def served(self, conn):
        """One request on `conn`; True if it was answered (404: the key does not exist)."""
        try:
            response = conn.request("GET", "/cap-probe")
        except (AssertionError, OSError):
            return False
        self.assertEqual(response.status, 404, response)
        return True

    def assert_closed_without_an_answer(self, conn):
        conn.send(conn.build("GET", "/cap-probe"))
        outcome, received, _ = conn.wait_closed_or_response(3.0 * SLOWDOWN)
        self.assertEqual((outcome, received), ("closed", b""))


class RotationTest(ServerPerTest):
    """-ipv6Prefix: an IPv6 client is its prefix, so rotating addresses inside it gains nothing.
    X-Forwarded-For from loopback (a trusted proxy by default) sets the client address."""

    SLOW_REFILL = ("-resetDuration", "1000h")

    def post_from(self, address):
        self.n = getattr(self, "n", 0) + 1
        response = self.server.request("POST", "/ip/rotation-%d" % self.n, b"v",
                                       headers=[("X-Forwarded-For", address)])
        if response.status == 200:
            self.assertEqual(response.text, address)  # the key has the full address
        else:
            self.assert_error(response, 429, "Rate limit")
        return response.status

    def test_addresses_rotating_inside_one_ipv6_64_share_one_bucket(self):
        self.start("-maxRequests", "11", *self.SLOW_REFILL)
        # A POST costs 3 of the 11 tokens: the fourth has 2 left, whichever address it uses.
        rotating = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa::3",
                    "2001:db8:1:2:ffff:ffff:ffff:ffff"]
        self.assertEqual([self.post_from(a) for a in rotating], [200, 200, 200, 429])
        self.assertEqual(self.post_from("2001:db8:1:2::99"), 429)
        # The next /64 is another client.
        self.assertEqual(self.post_from("2001:db8:1:3::1"), 200)

    def test_ipv4_clients_are_limited_per_address(self):
        self.start("-maxRequests", "11", *self.SLOW_REFILL)
        self.assertEqual([self.post_from("198.51.100.%d" % i) for i in (1, 2, 3, 4)],
                         [200, 200, 200, 200])
        self.assertEqual([self.post_from("198.51.100.9") for _ in range(4)], [200, 200, 200, 429])

    def test_a_wider_ipv6_prefix_groups_more_addresses(self):
        self.start("-maxRequests", "11", *self.SLOW_REFILL, "-ipv6Prefix", "48")
        rotating = ["2001:db8:1:%x::1" % i for i in (2, 3, 4, 5)]
        self.assertEqual([self.post_from(a) for a in rotating], [200, 200, 200, 429])
        self.assertEqual(self.post_from("2001:db8:2::1"), 200)


class ConnectionCapTest(ServerPerTest):

    def test_the_ninth_connection_from_one_client_is_closed_and_the_first_eight_still_work(self):
        self.start("-maxConnectionsPerIP", "8", "-trustedProxies", "", *NO_RATE_LIMIT)
        held = [self.connect_from("127.0.0.2") for _ in range(8)]
        self.assertTrue(all(self.served(conn) for conn in held))
        self.assert_closed_without_an_answer(self.connect_from("127.0.0.2"))
        self.assertTrue(all(self.served(conn) for conn in held))
        # Another client is not held back by the first one's cap.
        self.assertTrue(self.served(self.connect_from("127.0.0.3")))
        # A closed connection gives its slot back.
        held[0].close()
        self.assertTrue(self.eventually_served_from("127.0.0.2"))

    def test_the_per_client_cap_applies_to_an_ipv6_client(self):
        # IPv6 loopback is one address (::1), so grouping by prefix is left to the unit tests.
        try:
            server = Server("-maxConnectionsPerIP", "2", "-trustedProxies", "", *NO_RATE_LIMIT,
                            listen="::1").start()
        except Exception as error:  # pylint: disable=broad-except
            self.skipTest("no IPv6 loopback: %s" % error)
        self.addCleanup(server.stop)
        self.server = server
        held = [server.connect(), server.connect()]
        for conn in held:
            self.addCleanup(conn.close)
        self.assertTrue(all(self.served(conn) for conn in held))
        third = server.connect()
        self.addCleanup(third.close)
        self.assert_closed_without_an_answer(third)
        self.assertTrue(all(self.served(conn) for conn in held))

    def test_the_total_cap_closes_the_ninth_connection_and_the_first_eight_still_work(self):
        # Default -trustedProxies: 127.0.0.1 is exempt from the per-client cap, not from the total.
        self.start("-maxConnections", "8", "-maxConnectionsPerIP", "8", *NO_RATE_LIMIT)
        held = [self.connect_from("127.0.0.1") for _ in range(8)]
        self.assertTrue(all(self.served(conn) for conn in held))
        self.assert_closed_without_an_answer(self.connect_from("127.0.0.1"))
        self.assert_closed_without_an_answer(self.connect_from("127.0.0.4"))
        self.assertTrue(all(self.served(conn) for conn in held))
        held[0].close()
        self.assertTrue(self.eventually_served_from("127.0.0.4"))

    def eventually_served_from(self, source, timeout=3.0):
        """The server frees a slot when it sees the close: retry briefly on fresh connections."""
        deadline = time.monotonic() + timeout * SLOWDOWN
        while time.monotonic() < deadline:
            if self.served(self.connect_from(source)):
                return True
            time.sleep(0.05)
        return False


class SlowlorisTest(ServerPerTest):
    """300 connections trickle a header one byte per second; a normal client is timed meanwhile."""

    TRICKLERS = 300
    NORMAL_REQUESTS = 50
    P99_LIMIT_S = 0.2 * SLOWDOWN
    LOW_S = 8.5  # the 10 s header deadline is checked by a one-second tick
    HIGH_S = 14.0 * (1.5 if SLOWDOWN > 1 else 1.0)

    def test_trickling_connections_do_not_slow_a_normal_client_and_are_timed_out_with_408(self):
        # Every connection is from 127.0.0.1, which must not be exempt from the per-client cap
        # (hence no trusted proxies), with a cap high enough for the tricklers.
        self.start("-trustedProxies", "", "-maxConnectionsPerIP", "1000", *NO_RATE_LIMIT)
        path = "/" + self.key()
        self.assertEqual(self.server.request("POST", path, b"served").status, 200)

        trickle = Trickle(self.server, self.TRICKLERS, self.HIGH_S + 2)
        self.addCleanup(trickle.close)
        trickle.start()
        time.sleep(1.5)  # every trickler has sent a few bytes

        latencies = []
        for _ in range(self.NORMAL_REQUESTS):
            start = time.perf_counter()
            with self.server.connect() as conn:
                response = conn.request("GET", path)
            latencies.append(time.perf_counter() - start)
            self.assert_value(response, b"served")
            time.sleep(0.1)
        open_during = trickle.open_count()
        trickle.join()

        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[math.ceil(0.99 * len(latencies)) - 1]
        closed_after = sorted(result[1] for result in trickle.results.values())
        answered_408 = sum(1 for data, _ in trickle.results.values()
                           if data.startswith(b"HTTP/1.1 408 "))
        print("\nslowloris: %d trickling connections (%d still open after the normal client);"
              " normal client %d GETs on fresh connections: p50 %.1f ms, p99 %.1f ms, max %.1f ms;"
              " tricklers answered 408: %d, closed after %.1f..%.1f s"
              % (self.TRICKLERS, open_during, len(latencies), p50 * 1e3, p99 * 1e3,
                 latencies[-1] * 1e3, answered_408,
                 closed_after[0] if closed_after else -1, closed_after[-1] if closed_after else -1))

        self.assertEqual(open_during, self.TRICKLERS, "tricklers cut off before their deadline")
        self.assertLess(p99, self.P99_LIMIT_S, "normal client p99 %.1f ms" % (p99 * 1e3))
        self.assertEqual(len(trickle.results), self.TRICKLERS, "some tricklers were never closed")
        for index, (data, elapsed) in sorted(trickle.results.items()):
            with self.subTest(trickler=index):
                self.assertTrue(data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data[:200])
                self.assertTrue(data.endswith(b"\r\n\r\nRequest Timeout\n"), data[-200:])
                self.assertIn(b"\r\nConnection: close\r\n", data)
                self.assertGreaterEqual(elapsed, self.LOW_S)
                self.assertLessEqual(elapsed, self.HIGH_S)


class Trickle(threading.Thread):
    """Opens `count` connections and sends each one header byte per second, from one thread,
    until the server closes them (or `budget_s` passes). results[i] = (bytes received, seconds
    from the first byte to the close)."""

    HEADER = b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"

    def __init__(self, server, count, budget_s):
        super().__init__(daemon=True)
        self.socks = []
        for _ in range(count):
            sock = socket.create_connection((server.host, server.port), timeout=SOCKET_TIMEOUT_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            self.socks.append(sock)
        self.budget_s = budget_s
        self.results = {}
        self._received = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def open_count(self):
        with self._lock:
            return len(self.socks) - len(self.results)

    def run(self):
        selector = selectors.DefaultSelector()
        for index, sock in enumerate(self.socks):
            selector.register(sock, selectors.EVENT_READ, index)
            self._received[index] = bytearray()
        start = time.monotonic()
        deadline = start + self.budget_s
        sent = 0
        next_byte = start
        while not self._stopping.is_set() and self.open_count() > 0:
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_byte and sent < len(self.HEADER):
                for index, sock in enumerate(self.socks):
                    if index not in self.results:
                        try:
                            sock.send(self.HEADER[sent:sent + 1])
                        except OSError:
                            pass  # closed by the server: the read side records it
                sent += 1
                next_byte += 1.0
            for key, _ in selector.select(timeout=max(0.0, min(next_byte, deadline) - now)):
                index = key.data
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    self._received[index] += data
                    continue
                selector.unregister(key.fileobj)
                with self._lock:
                    self.results[index] = (bytes(self._received[index]), time.monotonic() - start)
        selector.close()

    def close(self):
        self._stopping.set()
        for sock in self.socks:
            sock.close()


if __name__ == "__main__":
    unittest.main()
