"""Abuse resistance (issue 4), per-client limits: IPv6 /64 rotation, connection caps, and a
slowloris run with a normal client timed alongside. (Request smuggling: test_security.py.)

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
