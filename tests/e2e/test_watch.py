"""Long poll: GET with Prefer: wait=N or ?wait=N waits for its key to change (a write wakes it within
milliseconds, a delete answers 404, the wait's end 304), bounded per client and in total; a client
that leaves is forgotten at once; shutdown answers every waiter at once."""

import os
import resource
import select
import socket
import time
import unittest

from harness import (NO_RATE_LIMIT, SLOWDOWN, PerTestServerCase, Server, answered, build_request,
                     read_answer)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class WaitTest(PerTestServerCase):
    def setUp(self):
        self.server = self.start(*NO_RATE_LIMIT)

    def send_wait(self, target, headers=(("Prefer", "wait=30"),), source=None):
        """Opens a connection (from `source`, a loopback address) and sends a waiting GET."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            sock.bind((source, 0))
        sock.connect((self.server.host, self.server.port))
        sock.sendall(build_request("GET", target, None, headers, "1.1", self.server.authority))
        self.addCleanup(sock.close)
        return sock

    def test_a_write_wakes_a_waiter_within_milliseconds(self):
        key = "/" + self.key()
        sock = self.send_wait(key)
        self.assertFalse(answered(sock, 0.2))
        started = time.monotonic()
        self.assertEqual(self.server.request("POST", key, b"hello").status, 200)
        self.assertTrue(answered(sock, 1.0))
        woke_ms = (time.monotonic() - started) * 1000
        answer = read_answer(sock)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        self.assertIn(b"Preference-Applied: wait=30\r\n", answer)
        self.assertTrue(answer.endswith(b"hello") or b"hello" in answer, answer)
        self.assertLess(woke_ms, 50 * SLOWDOWN, "woken after %.1f ms" % woke_ms)

    def test_timeout_is_304_and_delete_is_404(self):
        key = "/" + self.key()
        etag = self.server.request("POST", key, b"v").header("ETag")
        started = time.monotonic()
        response = self.server.request("GET", key + "?wait=1", headers=[("If-None-Match", etag)])
        self.assertEqual(response.status, 304, response)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        sock = self.send_wait(key, headers=[("Prefer", "wait=30"), ("If-None-Match", etag)])
        self.assertFalse(answered(sock, 0.2))
        self.assertEqual(self.server.request("DELETE", key).status, 204)
        self.assertTrue(read_answer(sock).startswith(b"HTTP/1.1 404 "))

    def test_malformed_wait_is_400(self):
        response = self.server.request("GET", "/k", headers=[("Prefer", "wait=soon")])
        self.assertEqual((response.status, response.body), (400, b"Invalid wait\n"))

    def test_disconnected_waiters_do_not_block_a_33rd(self):
        key = "/" + self.key()
        socks = [self.send_wait(key) for _ in range(32)]
        time.sleep(0.3)
        refused = self.server.request("GET", key, headers=[("Prefer", "wait=30")])
        self.assertEqual(refused.status, 429, refused)
        self.assertEqual(refused.body, b"Too many waiting requests from your address\n")
        for sock in socks:
            sock.close()
        time.sleep(0.3)
        sock = self.send_wait(key)
        self.assertFalse(answered(sock, 0.3), "the 33rd waiter was refused")

    def test_shutdown_answers_waiters_at_once(self):
        key = "/" + self.key()
        socks = [self.send_wait(key) for _ in range(5)]
        time.sleep(0.3)
        started = time.monotonic()
        self.server.stop()
        self.assertLess(time.monotonic() - started, 3.0)
        for sock in socks:
            self.assertTrue(read_answer(sock).startswith(b"HTTP/1.1 404 "))


class ManyWaitersTest(PerTestServerCase):
    N = 5000

    def test_5000_waiters_on_one_key_wake_on_one_write(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < self.N + 200:
            self.skipTest("needs %d file descriptors" % (self.N + 200))
        server = self.start(*NO_RATE_LIMIT, "-maxWaiters", str(self.N))
        key = "/" + self.key()
        rss_before = rss_kib(server.proc.pid)
        socks = []
        # 32 waiters per client address: spread over 127.0.1.x.
        for i in range(self.N):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.%d.%d" % (1 + i // 32 // 250, 1 + (i // 32) % 250), 0))
            sock.connect((server.host, server.port))
            sock.sendall(build_request("GET", key, None, [("Prefer", "wait=60")], "1.1",
                                       server.authority))
            socks.append(sock)
        self.addCleanup(lambda: [s.close() for s in socks])
        time.sleep(1.0)
        rss_after = rss_kib(server.proc.pid)
        started = time.monotonic()
        self.assertEqual(server.request("POST", key, b"go").status, 200)
        poller = select.epoll()  # select() cannot watch descriptors past 1024
        by_fd = {sock.fileno(): sock for sock in socks}
        for fd in by_fd:
            poller.register(fd, select.EPOLLIN)
        pending = set(by_fd)
        deadline = started + 10 * SLOWDOWN
        while pending and time.monotonic() < deadline:
            for fd, _ in poller.poll(0.5):
                data = by_fd[fd].recv(65536)
                self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:80])
                poller.unregister(fd)
                pending.discard(fd)
        poller.close()
        elapsed = time.monotonic() - started
        self.assertEqual(len(pending), 0)
        print("\n%d waiters woken in %.0f ms; RSS grew %d KiB (%.0f bytes per waiting "
              "connection)" % (self.N, elapsed * 1000, rss_after - rss_before,
                               (rss_after - rss_before) * 1024.0 / self.N))


if __name__ == "__main__":
    unittest.main()
