"""Concurrent clients: atomic ownership claims, a never-exceeded -maxNumKV, and a mixed load.

Ours: the claim and the capacity check happen inside the store, atomically (the original's were
check-then-act races). Run under ThreadSanitizer by `make test`.
"""

import collections
import concurrent.futures
import random
import threading
import unittest

from harness import NO_RATE_LIMIT, SLOWDOWN, PerTestServerCase, pipeline, race

CLAIMERS = 64


class ClaimRaceTest(PerTestServerCase):

    def test_of_64_concurrent_first_claims_exactly_one_secret_wins(self):
        server = self.start(*NO_RATE_LIMIT)
        for round_number in range(4):
            with self.subTest(round=round_number):
                path = "/claim-%d" % round_number
                if round_number % 2:
                    # An existing unowned key: every request claims it.
                    self.assert_ok(self.conn.request("POST", path, b"unowned"))
                requests = [("POST", path, b"value-%d" % i, [("X-Owner-Secret", "secret-%d" % i)])
                            for i in range(CLAIMERS)]
                responses = race(server, requests)
                counts = collections.Counter(r.status for r in responses)
                self.assertEqual(counts, {200: 1, 403: CLAIMERS - 1}, counts)
                for response in responses:
                    if response.status == 200:
                        self.assert_ok(response)
                    else:
                        self.assert_error(response, 403, "Forbidden: Incorrect secret")
                winner = [i for i, r in enumerate(responses) if r.status == 200][0]
                self.assert_value(self.conn.request("GET", path), b"value-%d" % winner)
                loser = (winner + 1) % CLAIMERS
                self.assert_error(self.conn.request("POST", path, b"x",
                                                    [("X-Owner-Secret", "secret-%d" % loser)]),
                                  403, "Forbidden: Incorrect secret")
                self.assert_ok(self.conn.request("POST", path, b"again",
                                                 [("X-Owner-Secret", "secret-%d" % winner)]))
                self.assert_value(self.conn.request("GET", path), b"again")


class CapacityRaceTest(PerTestServerCase):

    def test_200_concurrent_creates_with_max_num_kv_50_store_exactly_50(self):
        server = self.start(*NO_RATE_LIMIT, "-maxNumKV", "50")
        requests = [("POST", "/cap-%d" % i, b"v%d" % i) for i in range(200)]
        responses = race(server, requests)
        counts = collections.Counter(r.status for r in responses)
        self.assertEqual(counts, {200: 50, 507: 150}, counts)
        for i, response in enumerate(responses):
            if response.status == 507:
                self.assert_error(response, 507, "Store capacity reached")
        stored = [i for i in range(200) if self.conn.request("GET", "/cap-%d" % i).status == 200]
        winners = [i for i, r in enumerate(responses) if r.status == 200]
        self.assertEqual(stored, winners)
        self.assert_error(self.conn.request("POST", "/cap-new", b"x"), 507,
                          "Store capacity reached")
        self.assert_ok(self.conn.request("POST", "/cap-%d" % winners[0], b"updated"))


class MixedLoadTest(PerTestServerCase):
    """Many clients reading and writing the same keys at once (for ThreadSanitizer): every
    answer is well-formed and consistent with some order of the writes."""

    def test_concurrent_posts_and_gets_on_shared_keys_are_consistent(self):
        server = self.start(*NO_RATE_LIMIT, "-threads", "4")
        keys = ["/mixed-%d" % i for i in range(8)]
        workers, rounds = 16, 60 if SLOWDOWN == 1.0 else 25
        values = {key: {b"w%d-%d" % (w, r) for w in range(workers) for r in range(rounds)}
                  for key in keys}
        errors = []

        def work(worker):
            rng = random.Random(worker)
            with server.connect() as conn:
                for r in range(rounds):
                    key = rng.choice(keys)
                    kind = rng.randrange(4)
                    if kind == 0:
                        response = conn.request("POST", key, b"w%d-%d" % (worker, r))
                        ok = response.status == 200 and response.body == b"OK"
                    elif kind == 1:
                        batch = [conn.build("GET", k) for k in keys]
                        ok = all(resp.status == 404 or resp.body in values[k]
                                 for k, resp in zip(keys, pipeline(conn, batch)))
                        response = None
                    elif kind == 2:
                        response = conn.request("HEAD", key)
                        ok = response.status in (200, 404)
                    else:
                        response = conn.request("GET", key)
                        ok = response.status == 404 or (response.status == 200
                                                        and response.body in values[key])
                    if not ok:
                        errors.append((worker, r, key, response))
            # Also connections that vanish mid-request.
            with server.connect() as conn:
                conn.send(conn.build("POST", keys[0], content_length=100) + b"partial")

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, range(workers)))
        self.assertEqual(errors, [])
        self.assertEqual(self.conn.request("GET", "/").status, 200)


if __name__ == "__main__":
    unittest.main()
