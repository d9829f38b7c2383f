"""Connections: keep-alive, pipelining, protocol limits, timeouts and graceful shutdown.

Ours (docs/compatibility.md "Connections"): HTTP/1.1 keep-alive and pipelining with responses in
request order (the original closed every connection); protocol errors answer and close (400,
431, 408, 413, 501); Expect: 100-continue; SIGTERM finishes in-flight requests and exits 0.
"""

import signal
import socket
import threading
import time
import unittest

from harness import NO_RATE_LIMIT, SLOWDOWN, PerTestServerCase, ServerTestCase, pipeline


class KeepAliveTest(ServerTestCase):

    def test_several_requests_share_one_keep_alive_connection(self):
        path = "/" + self.key()
        for i in range(5):
            response = self.conn.request("POST", path, b"v%d" % i)
            self.assert_ok(response)
            self.assertNotEqual((response.header("Connection") or "").lower(), "close")
            self.assert_value(self.conn.request("GET", path), b"v%d" % i)
        self.assertFalse(self.conn.closed_by_peer(0.2))

    def test_sixteen_pipelined_requests_in_one_write_are_answered_in_order(self):
        requests, expected = [], []
        for i in range(8):
            path = "/%s-%d" % (self.key(), i)
            requests.append(self.conn.build("POST", path, b"value-%d" % i))
            expected.append((200, b"OK"))
            if i == 4:
                requests.append(self.conn.build("GET", path + "-missing"))
                expected.append((404, b"Key not found\n"))
            else:
                requests.append(self.conn.build("GET", path))
                expected.append((200, b"value-%d" % i))
        self.assertEqual(len(requests), 16)
        responses = pipeline(self.conn, requests)
        self.assertEqual([(r.status, r.body) for r in responses], expected)
        self.assert_open(self.conn)

    def test_a_thousand_pipelined_gets_are_answered_in_order(self):
        for i in range(10):
            self.assert_ok(self.conn.request("POST", "/%s-%d" % (self.key(), i), b"v%d" % i))
        requests = [self.conn.build("GET", "/%s-%d" % (self.key(), i % 10)) for i in range(1000)]
        responses = pipeline(self.conn, requests)
        self.assertEqual([r.body for r in responses], [b"v%d" % (i % 10) for i in range(1000)])

    def test_pipelined_head_and_get_keep_their_framing(self):
        path = "/" + self.key()
        self.assert_ok(self.conn.request("POST", path, b"framed"))
        requests = [self.conn.build("HEAD", path), self.conn.build("GET", path),
                    self.conn.build("HEAD", "/"), self.conn.build("GET", path)]
        responses = pipeline(self.conn, requests, head_flags=[True, False, True, False])
        self.assertEqual([r.status for r in responses], [200, 200, 200, 200])
        self.assertEqual(responses[1].body, b"framed")
        self.assertEqual(responses[3].body, b"framed")

    def test_connection_close_is_answered_with_close_and_the_server_closes(self):
        response = self.conn.request("GET", "/" + self.key(), headers=[("Connection", "close")])
        self.assertEqual(response.status, 404, response)
        self.assertEqual((response.header("Connection") or "").lower(), "close")
        self.assert_closed(self.conn)

    def test_pipelined_requests_before_a_connection_close_are_all_answered(self):
        path = "/" + self.key()
        requests = [self.conn.build("POST", path, b"a"), self.conn.build("GET", path),
                    self.conn.build("GET", path, headers=[("Connection", "close")]),
                    self.conn.build("GET", path)]  # after the close: never answered
        self.conn.send(b"".join(requests))
        statuses = [self.conn.read_response().status for _ in range(3)]
        self.assertEqual(statuses, [200, 200, 200])
        self.assert_closed(self.conn)

    def test_http10_closes_after_the_response(self):
        path = "/" + self.key()
        self.assert_ok(self.conn.request("POST", path, b"ten"))
        conn = self.fresh()
        self.assert_value(conn.request("GET", path, version="1.0", host=""), b"ten")
        self.assert_closed(conn)

    def test_http10_with_keep_alive_stays_open_and_says_keep_alive(self):
        path = "/" + self.key()
        self.assert_ok(self.conn.request("POST", path, b"ten"))
        conn = self.fresh()
        for _ in range(3):
            response = conn.request("GET", path, version="1.0",
                                    headers=[("Connection", "keep-alive")])
            self.assert_value(response, b"ten")
            self.assertEqual((response.header("Connection") or "").lower(), "keep-alive")
        self.assertFalse(conn.closed_by_peer(0.2))


class LimitTest(ServerTestCase):
    """Bounded header block and body; malformed requests."""

    def test_a_header_block_over_8_kib_is_431_and_closes(self):
        for name, headers in (("one big header", [("X-Pad", "p" * 9000)]),
                              ("many headers", [("X-Pad-%d" % i, "q" * 40) for i in range(250)])):
            with self.subTest(name):
                conn = self.fresh()
                response = conn.request("GET", "/" + self.key(), headers=headers)
                self.assert_error(response, 431, "Request Header Fields Too Large")
                self.assert_closed(conn)

    def test_a_100_kib_target_is_414_and_closes(self):
        conn = self.fresh()
        response = conn.request("GET", "/" + "t" * 100_000)
        self.assert_error(response, 414, "URI Too Long")
        self.assert_closed(conn)

    def test_a_key_of_max_key_size_fully_percent_encoded_is_served(self):
        # -maxKeySize 100: 300 bytes of target, far below the 8 KiB floor of the target limit.
        key = "%41" * 100
        self.assert_ok(self.conn.request("POST", "/" + key, b"long"))
        self.assert_value(self.conn.request("GET", "/" + "A" * 100), b"long")

    def test_an_empty_line_before_a_request_line_is_ignored(self):
        # A client that ends a POST body with an extra CRLF (RFC 9112 section 2.2).
        key = "/" + self.key()
        self.conn.send(self.conn.build("POST", key, b"v") + b"\r\n")
        self.assert_ok(self.conn.read_response())
        self.conn.send(b"\n" + self.conn.build("GET", key))
        self.assert_value(self.conn.read_response(), b"v")
        self.assert_open(self.conn)

    def test_a_later_http1_minor_version_is_answered_as_http11(self):
        key = "/" + self.key()
        self.assert_ok(self.conn.request("POST", key, b"v12", version="1.2"))
        response = self.conn.request("GET", key, version="1.9")
        self.assert_value(response, b"v12")
        self.assert_open(self.conn)

    def test_http2_and_http09_request_lines_stay_refused(self):
        for version in ("2.0", "0.9"):
            with self.subTest(version=version):
                conn = self.fresh()
                self.assert_error(conn.request("GET", "/" + self.key(), version=version), 400,
                                  "Bad Request")
                self.assert_closed(conn)

    def test_options_asterisk_is_204_with_allow_and_keeps_the_connection(self):
        self.conn.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        response = self.conn.read_response()
        self.assertEqual(response.status, 204, response)
        self.assertEqual(response.header("Allow"), "GET, HEAD, POST, PUT, DELETE, OPTIONS")
        self.assert_open(self.conn)

    def test_a_header_block_under_8_kib_is_served(self):
        response = self.conn.request("GET", "/" + self.key(), headers=[("X-Pad", "p" * 6000)])
        self.assert_not_found(response)

    def test_a_body_over_max_value_size_is_413_and_closes(self):
        conn = self.fresh()
        self.assert_error(conn.request("POST", "/" + self.key(), b"b" * 1001), 413,
                          "Value too large")
        self.assert_closed(conn)

    def test_a_chunked_body_over_max_value_size_is_413_and_closes(self):
        conn = self.fresh()
        response = conn.request("POST", "/" + self.key(), [b"c" * 500] * 3, chunked=True)
        self.assert_error(response, 413, "Value too large")
        self.assert_closed(conn)

    def test_a_huge_content_length_is_refused_at_once_without_reading_the_body(self):
        conn = self.fresh()
        start = time.monotonic()
        conn.send(conn.build("POST", "/" + self.key(), content_length=100_000_000) + b"x" * 2000)
        response = conn.read_response(timeout=2.0 * SLOWDOWN)
        self.assertLess(time.monotonic() - start, 2.0 * SLOWDOWN)
        self.assert_error(response, 413, "Value too large")
        self.assert_closed(conn)

    def test_an_unbounded_chunked_stream_is_refused_once_past_the_limit(self):
        conn = self.fresh()
        conn.send(conn.build("POST", "/" + self.key(), headers=[("Transfer-Encoding", "chunked")]))
        conn.send(b"400\r\n" + b"s" * 1024 + b"\r\n")  # 1024 > 1000, and the stream never ends
        response = conn.read_response(timeout=2.0 * SLOWDOWN)
        self.assert_error(response, 413, "Value too large")
        self.assert_closed(conn)

    def test_a_final_coding_other_than_chunked_is_400_and_closes(self):
        # RFC 9112 6.1: the body length cannot be known, so the stream cannot be trusted.
        conn = self.fresh()
        conn.send(conn.build("POST", "/" + self.key(), headers=[("Transfer-Encoding", "bogus")])
                  + b"abc")
        response = conn.read_response()
        self.assertEqual(response.status, 400, response)
        self.assert_common_headers(response)
        self.assert_closed(conn)

    def test_an_unknown_coding_before_a_final_chunked_is_501_and_closes(self):
        conn = self.fresh()
        conn.send(conn.build("POST", "/" + self.key(),
                             headers=[("Transfer-Encoding", "gzip, chunked")])
                  + b"3\r\nabc\r\n0\r\n\r\n")
        response = conn.read_response()
        self.assertEqual(response.status, 501, response)
        self.assert_common_headers(response)
        self.assert_closed(conn)

    def test_a_garbage_request_line_is_400_and_closes(self):
        for garbage in (b"this is not http\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.x\r\n\r\n",
                        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n"):
            with self.subTest(garbage=garbage):
                conn = self.fresh()
                conn.send(garbage)
                self.assert_error(conn.read_response(), 400, "Bad Request")
                self.assert_closed(conn)

    def test_binary_noise_gets_a_400_or_a_close_and_the_server_lives_on(self):
        conn = self.fresh()
        conn.send(bytes(range(256)) + b"\r\n\r\n")
        outcome, result, _ = conn.wait_closed_or_response(3.0 * SLOWDOWN)
        if outcome == "response":
            self.assertEqual(result.status, 400, result)
            self.assert_closed(conn)
        else:
            self.assertEqual(outcome, "closed", result)
        self.assert_not_found(self.conn.request("GET", "/" + self.key()))

    def test_expect_100_continue_gets_100_then_200(self):
        path = "/" + self.key()
        body = b"e" * 1000
        self.conn.send(self.conn.build("POST", path, headers=[("Expect", "100-continue")],
                                       content_length=len(body)))
        interim = self.conn.read_response(timeout=3.0 * SLOWDOWN)
        self.assertEqual(interim.status, 100, interim)
        self.conn.send(body)
        self.assert_ok(self.conn.read_response())
        self.assert_value(self.conn.request("GET", path), body)

    def test_expect_100_continue_with_an_oversize_body_is_413_without_sending_it(self):
        conn = self.fresh()
        conn.send(conn.build("POST", "/" + self.key(), headers=[("Expect", "100-continue")],
                             content_length=5000))
        interim, response = conn.read_final_response(timeout=3.0 * SLOWDOWN)
        self.assertIn(interim, ([], [100]))
        self.assert_error(response, 413, "Value too large")
        self.assert_closed(conn)


class PieceByPieceTest(ServerTestCase):
    """Requests fed in pieces of every small size are parsed the same (Seastar's parser tests)."""

    def test_requests_fed_one_byte_at_a_time_are_answered_correctly(self):
        path = "/" + self.key()
        post = self.conn.build("POST", path, b"trickled", headers=[("X-Owner-Secret", "s")])
        self.conn.send_slowly(post, piece=1, pause_s=0.001)
        self.assert_ok(self.conn.read_response())
        self.conn.send_slowly(self.conn.build("GET", path), piece=1, pause_s=0.001)
        self.assert_value(self.conn.read_response(), b"trickled")

    def test_pipelined_requests_split_at_every_piece_size_are_answered_in_order(self):
        path = "/" + self.key()
        self.assert_ok(self.conn.request("POST", path, b"pieces"))
        chunked = self.conn.build("POST", path + "-c", [b"ab", b"cd"], chunked=True)
        data = (self.conn.build("GET", path) + chunked + self.conn.build("GET", path + "-c")
                + self.conn.build("HEAD", path))
        for piece in (1, 2, 3, 5, 7, 13, 64):
            with self.subTest(piece=piece):
                self.conn.send_slowly(data, piece=piece, pause_s=0.0005 if piece < 8 else 0)
                self.assert_value(self.conn.read_response(), b"pieces")
                self.assert_ok(self.conn.read_response())
                self.assert_value(self.conn.read_response(), b"abcd")
                self.assertEqual(self.conn.read_response(head=True).status, 200)


class TimeoutTest(ServerTestCase):
    """Stalled clients are cut off after about 10 s without holding up anyone else.

    All stalls run at once so the test takes one timeout (~11 s), not four.
    """

    LOW_S = 8.5  # the server's deadlines are checked by a coarse (one-second) tick
    HIGH_S = 14.0 * (1.5 if SLOWDOWN > 1 else 1.0)

    def test_stalled_header_body_and_trickle_clients_are_timed_out_while_others_are_served(self):
        path = "/" + self.key()
        self.assert_ok(self.conn.request("POST", path, b"served"))
        idle = self.fresh()  # completes a request, then idles through the timeouts
        self.assert_value(idle.request("GET", path), b"served")

        short_body = self.fresh()
        short_body.send(short_body.build("POST", path + "-short", content_length=10) + b"abc")
        partial_header = self.fresh()
        partial_header.send(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        trickle = self.fresh()
        stop_trickle = threading.Event()
        header = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200

        def trickler():
            for byte in header:
                if stop_trickle.wait(0.5) or not trickle.send(bytes([byte])):
                    return

        sender = threading.Thread(target=trickler, daemon=True)
        sender.start()
        self.addCleanup(stop_trickle.set)
        start = time.monotonic()

        # Meanwhile, a new client is served promptly.
        time.sleep(1.0)
        prompt_start = time.monotonic()
        self.assert_value(self.fresh().request("GET", path), b"served")
        self.assertLess(time.monotonic() - prompt_start, 1.0 * SLOWDOWN)

        results = {}

        def watch(name, conn):
            remaining = start + self.HIGH_S - time.monotonic()
            outcome, result, _ = conn.wait_closed_or_response(remaining)
            results[name] = (outcome, result, time.monotonic() - start)
            if conn is trickle:
                stop_trickle.set()

        watchers = [threading.Thread(target=watch, args=item, daemon=True)
                    for item in (("short body", short_body), ("partial header", partial_header),
                                 ("trickled header", trickle))]
        for watcher in watchers:
            watcher.start()
        for watcher in watchers:
            watcher.join(self.HIGH_S + 5)
        stop_trickle.set()

        for name in ("short body", "partial header", "trickled header"):
            with self.subTest(name):
                self.assertIn(name, results)
                outcome, result, elapsed = results[name]
                self.assertNotEqual(outcome, "timeout", "%s: not cut off within %.1f s"
                                    % (name, self.HIGH_S))
                self.assertGreaterEqual(elapsed, self.LOW_S, "%s: cut off too early" % name)
                if outcome == "response":
                    self.assert_error(result, 408, "Request Timeout")
                    conn = {"short body": short_body, "partial header": partial_header,
                            "trickled header": trickle}[name]
                    self.assert_closed(conn)
                else:
                    self.assertEqual(result, b"", "%s: partial response %r" % (name, result))
        self.assert_not_found(self.conn.request("GET", path + "-short"))  # nothing stored

        # The idle keep-alive connection outlived the 10 s request timeouts.
        self.assert_value(idle.request("GET", path), b"served")


class ShutdownTest(PerTestServerCase):
    """SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0."""

    def wait_until_refused(self, server, timeout=3.0):
        deadline = time.monotonic() + timeout * SLOWDOWN
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((server.host, server.port), timeout=0.5):
                    pass
            except OSError:
                return True
            time.sleep(0.02)
        return False

    def test_sigterm_lets_an_in_flight_slow_request_finish_then_exits_0(self):
        server = self.start(*NO_RATE_LIMIT)
        conn = server.connect()
        self.addCleanup(conn.close)
        self.assert_ok(conn.request("POST", "/warm", b"w"))  # the connection is established
        conn.send(conn.build("POST", "/inflight", content_length=10) + b"abc")
        time.sleep(0.2)  # let the server read the partial request
        server.send_signal(signal.SIGTERM)
        self.assertTrue(self.wait_until_refused(server), "still accepting after SIGTERM")
        self.assertIsNone(server.proc.poll(), "exited before finishing the in-flight request")
        conn.send(b"defghij")
        self.assert_ok(conn.read_response())
        self.assertTrue(conn.closed_by_peer(5.0 * SLOWDOWN))
        self.assertEqual(server.wait_exit(), 0, server.output())
        server.check_no_sanitizer_reports()

    def test_sigterm_closes_idle_keep_alive_connections_and_exits_promptly(self):
        server = self.start(*NO_RATE_LIMIT)
        idle = [server.connect() for _ in range(5)]
        for conn in idle:
            self.addCleanup(conn.close)
            self.assertEqual(conn.request("GET", "/idle").status, 404)
        start = time.monotonic()
        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(timeout=5.0), 0, server.output())
        self.assertLess(time.monotonic() - start, 3.0 * SLOWDOWN)
        for conn in idle:
            self.assertTrue(conn.closed_by_peer(1.0))
        server.check_no_sanitizer_reports()

    def test_sigint_exits_0(self):
        server = self.start(*NO_RATE_LIMIT)
        self.assertEqual(self.conn.request("GET", "/x").status, 404)
        server.send_signal(signal.SIGINT)
        self.assertEqual(server.wait_exit(), 0, server.output())
        server.check_no_sanitizer_reports()


if __name__ == "__main__":
    unittest.main()
