"""GET /ip/*/NAME with the real binary: peers announce a name from their addresses (POST /ip/NAME
behind a trusted proxy, X-Forwarded-For), a third client lists them without knowing who they are.
On the memory engine, on LMDB, and across two servers on a real redis-server."""

import json
import os
import shutil
import socket
import tempfile
import time
import unittest

from harness import (SLOWDOWN, PerTestServerCase, Server, ServerTestCase, answered, build_request,
                     read_answer)
from test_redis import REDIS_CLI, REDIS_SERVER, RedisProcess

NO_RATE_LIMIT = ("-maxRequests", "1000000")
PEERS = ("203.0.113.1", "203.0.113.2", "2001:db8::3")


class ListingChecks:
    """The checks, run against self.writer and self.reader (one server, or two on one Redis)."""

    def announce(self, name, address, value):
        response = self.writer.request("POST", "/ip/" + name, value,
                                       [("X-Forwarded-For", address)])
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.body, address.encode())
        return response.header("ETag")

    def listing(self, target, headers=()):
        return self.reader.request("GET", target, None, list(headers))

    def test_a_third_client_lists_every_announcer(self):
        name = "svc-" + self.id().rsplit("_", 1)[-1]
        etags = {address: self.announce(name, address, b"port=%d" % i)
                 for i, address in enumerate(PEERS)}
        response = self.listing("/ip/*/" + name, [("X-Forwarded-For", "198.51.100.7")])
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.header("Content-Type"), "application/json")
        self.assertEqual(response.header("Cache-Control"), "no-store")
        document = json.loads(response.body)
        self.assertEqual(document["name"], name)
        self.assertEqual(document["total"], 3)
        peers = {peer["address"]: peer for peer in document["peers"]}
        self.assertEqual(set(peers), set(PEERS))
        for i, address in enumerate(PEERS):
            self.assertEqual(peers[address]["value"], "port=%d" % i)
            self.assertEqual(peers[address]["etag"], etags[address])
            self.assertGreater(peers[address]["expires_in"], 7000)

        sample = json.loads(self.listing("/ip/*/%s?limit=2" % name).body)
        self.assertEqual(sample["total"], 3)
        self.assertEqual(len(sample["peers"]), 2)
        self.assertLessEqual({p["address"] for p in sample["peers"]}, set(PEERS))

        # Nothing changed: 304 with the listing's ETag; a delete changes it.
        etag = response.header("ETag")
        self.assertEqual(self.listing("/ip/*/" + name, [("If-None-Match", etag)]).status, 304)
        deleted = self.writer.request("DELETE", "/ip/" + name, None,
                                      [("X-Forwarded-For", PEERS[0])])
        self.assertEqual(deleted.status, 204, deleted)
        after = self.listing("/ip/*/" + name, [("If-None-Match", etag)])
        self.assertEqual(after.status, 200)
        self.assertEqual(json.loads(after.body)["total"], 2)

    def test_an_unknown_name_is_an_empty_listing(self):
        response = self.listing("/ip/*/nobody-here")
        self.assertEqual(response.status, 200)
        self.assertEqual(json.loads(response.body),
                         {"name": "nobody-here", "total": 0, "peers": []})

    def test_a_bad_limit_is_400(self):
        response = self.listing("/ip/*/x?limit=5000")
        self.assertEqual(response.status, 400)
        self.assertEqual(response.body, b"Invalid limit: a whole number from 0 to 1000\n")


class ListingWaitChecks:
    """A listing that waits (Prefer: wait=N with the listing's ETag in If-None-Match): self.writer
    announces, a waiter on self.reader, on its own connection, is woken (one server, or two on
    one Redis: then the announcement goes through A and wakes the waiter on B)."""

    def send_wait(self, target, etag, wait=30):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.connect((self.reader.host, self.reader.port))
        headers = [("Prefer", "wait=%d" % wait), ("If-None-Match", etag),
                   ("X-Forwarded-For", "198.51.100.9")]
        sock.sendall(build_request("GET", target, None, headers, "1.1", self.reader.authority))
        return sock

    def test_a_listing_waiter_is_woken_by_an_announcement_of_its_name(self):
        name = "wait-" + self.id().rsplit("_", 1)[-1]
        self.announce(name, PEERS[0], b"first")
        etag = self.listing("/ip/*/" + name).header("ETag")
        sock = self.send_wait("/ip/*/" + name, etag)
        self.assertFalse(answered(sock, 0.3))  # parked
        self.announce("other-" + name, PEERS[1], b"x")  # another name wakes nobody
        self.assertFalse(answered(sock, 0.2))
        started = time.monotonic()
        self.announce(name, PEERS[1], b"second")
        self.assertTrue(answered(sock, 1.0 * SLOWDOWN))
        woke_ms = (time.monotonic() - started) * 1000
        answer = read_answer(sock)
        print("\n  listing waiter woken %.1f ms after the announcement's POST was sent" % woke_ms)
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertIn(b"Preference-Applied: wait=30\r\n", head)
        self.assertNotIn(("ETag: " + etag + "\r\n").encode(), head + b"\r\n")
        document = json.loads(body)
        self.assertEqual(document["total"], 2)
        self.assertEqual({p["address"] for p in document["peers"]}, set(PEERS[:2]))
        self.assertLess(woke_ms, 1000 * SLOWDOWN)

    def test_an_unchanged_listing_is_304_at_the_waits_end(self):
        name = "still-" + self.id().rsplit("_", 1)[-1]
        self.announce(name, PEERS[0], b"v")
        etag = self.listing("/ip/*/" + name).header("ETag")
        started = time.monotonic()
        sock = self.send_wait("/ip/*/" + name, etag, wait=2)
        answer = read_answer(sock, timeout=6.0 * SLOWDOWN)
        self.assertTrue(answer.startswith(b"HTTP/1.1 304 "), answer)
        # The server measures waits on its one-second tick: a wait may end up to a second early.
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.assertIn(("ETag: " + etag + "\r\n").encode(), answer)


class ListingWaitShutdownTest(ListingWaitChecks, PerTestServerCase):
    """Shutdown answers a waiting listing at once instead of holding the grace period."""

    def setUp(self):
        self.reader = self.start(*NO_RATE_LIMIT)

    def test_shutdown_answers_a_waiting_listing_at_once(self):
        etag = self.reader.request("GET", "/ip/*/quiet").header("ETag")
        socks = [self.send_wait("/ip/*/quiet", etag) for _ in range(3)]
        self.assertFalse(answered(socks[0], 0.3))
        started = time.monotonic()
        self.reader.stop()
        self.assertLess(time.monotonic() - started, 3.0)
        for sock in socks:
            answer = read_answer(sock)
            self.assertTrue(answer.startswith(b"HTTP/1.1 304 "), answer)
            sock.settimeout(3.0)
            self.assertEqual(sock.recv(1), b"")  # then the server closes the connection

    # The wake and end-of-wait checks run in the classes below, on a server shared by the class.
    test_a_listing_waiter_is_woken_by_an_announcement_of_its_name = None
    test_an_unchanged_listing_is_304_at_the_waits_end = None


class MemoryListingTest(ListingChecks, ListingWaitChecks, ServerTestCase):
    SERVER_FLAGS = NO_RATE_LIMIT

    def setUp(self):
        super().setUp()
        self.writer = self.reader = self.server


class LmdbListingTest(ListingChecks, ListingWaitChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rdv-listing-")
        cls.server = Server(*NO_RATE_LIMIT, "-db", os.path.join(cls.dir, "store.db")).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.writer = self.reader = self.server


@unittest.skipUnless(REDIS_SERVER and REDIS_CLI, "redis-server is not installed")
class RedisListingTest(ListingChecks, ListingWaitChecks, unittest.TestCase):
    """Announced on one server, listed on the other; a listing waiting on B is woken by an
    announcement through A."""

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisProcess().start()
        try:
            cls.a = Server("-db", cls.redis.url, *NO_RATE_LIMIT).start()
            cls.b = Server("-db", cls.redis.url, *NO_RATE_LIMIT).start()
        except BaseException:
            cls.redis.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for server in (cls.a, cls.b):
                server.stop(check=False)
                server.check_no_sanitizer_reports()
        finally:
            cls.redis.stop()

    def setUp(self):
        self.writer, self.reader = self.a, self.b


if __name__ == "__main__":
    unittest.main()
