"""A flood of 1 000 000 distinct client addresses (issue 4): the server's memory stays bounded.

The rate limiter keeps one slot per client in a table of fixed size (2^18 slots of 24 bytes, see
src/ratelimit/limiter.h), so a million fresh addresses (through X-Forwarded-For from loopback, a
trusted proxy) evict each other instead of growing memory. Raw pipelined sockets, not the
harness's client: a million requests must take seconds, not minutes.
"""

import os
import socket
import threading
import time
import unittest

from harness import SANITIZE, SLOWDOWN, PerTestServerCase

ADDRESSES = 1_000_000
CONNECTIONS = 4
BATCH = 2_000  # requests per write
# The limiter table's own size plus room for what any server touches under load (buffers,
# allocator caches); a table that grew per client would need ~100 MiB for a million clients.
ALLOWED_GROWTH_KIB = 6 * 1024 + 10 * 1024


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def address(index):
    # 11.0.0.0/8 is public (the walk stops at it) and holds 16 M distinct addresses.
    return "11.%d.%d.%d" % ((index >> 16) & 255, (index >> 8) & 255, index & 255)


def flood(port, first, count, answered):
    """Sends `count` GETs from distinct addresses on one connection, pipelined BATCH at a time,
    and counts the status lines that come back."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30 * SLOWDOWN)
    marker = b"HTTP/1.1 "
    tail = b""
    seen = 0
    try:
        for start in range(first, first + count, BATCH):
            batch = range(start, min(start + BATCH, first + count))
            sock.sendall(b"".join(
                b"GET /flood-missing HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: %s\r\n\r\n"
                % address(i).encode() for i in batch))
            expected = seen + len(batch)
            while seen < expected:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise AssertionError("the server closed the connection after %d" % seen)
                data = tail + chunk
                seen += data.count(marker)
                tail = data[-(len(marker) - 1):]
    finally:
        sock.close()
        answered.append(seen)


class AddressFloodTest(PerTestServerCase):

    def test_a_million_distinct_addresses_do_not_grow_memory_past_the_table(self):
        if SANITIZE:
            self.skipTest("RSS is meaningless under sanitizers (shadow memory, quarantine)")
        # Each client spends one of its 11 tokens and refills only over 1000 h, so every bucket
        # stays non-full and needs a slot: the table saturates and evicts.
        server = self.start("-maxRequests", "11", "-resetDuration", "1000h", "-threads", "1")
        pid = server.proc.pid
        flood(server.port, ADDRESSES, 20_000, [])  # warm-up: buffers and allocator caches
        before = rss_kib(pid)
        answered = []
        share = ADDRESSES // CONNECTIONS
        threads = [threading.Thread(target=flood, args=(server.port, i * share, share, answered))
                   for i in range(CONNECTIONS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120 * SLOWDOWN)
        elapsed = time.monotonic() - started
        after = rss_kib(pid)
        print("\n  flood: %d requests from %d addresses in %.1f s; VmRSS %d -> %d KiB (+%d KiB)"
              % (sum(answered), ADDRESSES, elapsed, before, after, after - before))
        self.assertEqual(sum(answered), ADDRESSES)
        self.assertLess(after - before, ALLOWED_GROWTH_KIB)
        # Still serving.
        response = self.conn.request("GET", "/flood-missing")
        self.assertEqual(response.status, 404, response)


if __name__ == "__main__":
    unittest.main()
