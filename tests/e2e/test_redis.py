"""Two rendezvous servers on one real redis-server behave as one server.

Each test class starts its own redis-server (a free loopback port, a temporary directory, stopped
by PID) and two rendezvous-server processes on it (-db redis://...). Skipped when redis-server is
not installed.
"""

import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import unittest

from harness import SLOWDOWN, Server, answered, build_request, read_answer, run_server_to_exit
from test_pkarr import sign

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
# Flags of every server here: -db is given per server (the harness's "-db ''" comes first and the
# later -db wins).
NO_RATE_LIMIT = ("-maxRequests", "1000000")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """A redis-server on a free port in a temporary directory; stop() kills it by PID."""

    def __init__(self, *config):
        self.dir = tempfile.mkdtemp(prefix="rdv-redis-")
        self.port = free_port()
        self.config = list(config)
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--daemonize", "no", *self.config]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10 * SLOWDOWN
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited with %s" % self.proc.returncode)
            try:
                if self.cli("PING") == "PONG":
                    return self
            except subprocess.SubprocessError:
                pass
            time.sleep(0.05)
        raise AssertionError("redis-server did not answer PING")

    def cli(self, *args):
        out = subprocess.run([REDIS_CLI, "-p", str(self.port), *args], capture_output=True,
                             timeout=5, check=False)
        return out.stdout.decode("utf-8", "replace").strip()

    def kill(self, signum=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signum)
            if signum in (signal.SIGKILL, signal.SIGTERM):
                self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGKILL late
            self.kill(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_server(url, *flags):
    return Server("-db", url, *flags)


@unittest.skipUnless(REDIS_SERVER and REDIS_CLI, "redis-server is not installed")
class RedisCase(unittest.TestCase):
    """One redis-server and two rendezvous servers (a, b) for the class."""

    REDIS_CONFIG = ()
    FLAGS = NO_RATE_LIMIT

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisProcess(*cls.REDIS_CONFIG).start()
        try:
            cls.a = redis_server(cls.redis.url, *cls.FLAGS).start()
            cls.b = redis_server(cls.redis.url, *cls.FLAGS).start()
        except BaseException:
            cls.redis.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for server in (cls.a, cls.b):
                server.stop(check=False)  # a server of a stalled test may exit unclean
                server.check_no_sanitizer_reports()
        finally:
            cls.redis.stop()

    def key(self, suffix=""):
        return "/" + self.id().rsplit(".", 1)[-1][:60] + suffix


class TwoServersTest(RedisCase):
    FLAGS = NO_RATE_LIMIT + ("-maxKeysPerIP", "0")

    def test_a_write_on_one_is_read_on_the_other(self):
        value = bytes(range(256))  # binary-safe
        posted = self.a.request("POST", self.key(), value)
        self.assertEqual(posted.status, 200)
        got = self.b.request("GET", self.key())
        self.assertEqual(got.status, 200)
        self.assertEqual(got.body, value)
        self.assertEqual(got.header("ETag"), posted.header("ETag"))

    def test_an_owner_on_one_is_refused_on_the_other(self):
        self.assertEqual(
            self.a.request("POST", self.key(), b"v", [("X-Owner-Secret", "s1")]).status, 200)
        self.assertEqual(
            self.b.request("POST", self.key(), b"w", [("X-Owner-Secret", "s2")]).status, 403)
        self.assertEqual(self.b.request("DELETE", self.key()).status, 403)
        self.assertEqual(
            self.b.request("POST", self.key(), b"w", [("X-Owner-Secret", "s1")]).status, 200)
        self.assertEqual(self.a.request("GET", self.key()).body, b"w")

    def test_versions_increase_across_servers(self):
        etags = []
        for server in (self.a, self.b, self.a, self.b):
            etags.append(int(server.request("POST", self.key(), b"v").header("ETag").strip('"'), 16))
        self.assertEqual(etags, sorted(set(etags)))

    def test_64_concurrent_first_claims_across_both_servers_have_one_winner(self):
        statuses = []
        lock = threading.Lock()

        def claim(server, index):
            response = server.request("POST", self.key(), b"v%d" % index,
                                      [("X-Owner-Secret", "secret-%d" % index)])
            with lock:
                statuses.append(response.status)

        threads = [threading.Thread(target=claim, args=(self.a if i % 2 else self.b, i))
                   for i in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual(len(statuses), 64)
        self.assertEqual(statuses.count(200), 1, statuses)
        self.assertEqual(statuses.count(403), 63, statuses)

    def test_expiry_is_seen_by_both(self):
        self.assertEqual(self.a.request("POST", self.key(), b"v", [("X-TTL", "1")]).status, 200)
        self.assertEqual(self.b.request("GET", self.key()).status, 200)
        time.sleep(1.3)
        self.assertEqual(self.b.request("GET", self.key()).status, 404)
        self.assertEqual(self.a.request("GET", self.key()).status, 404)

    def test_a_killed_server_leaves_everything_for_a_restarted_one(self):
        self.assertEqual(self.a.request("POST", self.key(), b"kept",
                                        [("X-Owner-Secret", "s")]).status, 200)
        self.a.send_signal(signal.SIGKILL)
        self.a.wait_exit()
        restarted = redis_server(self.redis.url, *self.FLAGS).start()
        try:
            self.assertEqual(restarted.request("GET", self.key()).body, b"kept")
            self.assertEqual(restarted.request("DELETE", self.key()).status, 403)
        finally:
            restarted.stop(check=False)
            type(self).a = redis_server(self.redis.url, *self.FLAGS).start()


class SharedLimitsTest(RedisCase):
    FLAGS = ("-maxRequests", "12", "-resetDuration", "1000h", "-maxNumKV", "1000")

    def test_a_client_alternating_servers_has_one_bucket(self):
        statuses = [(self.a if i % 2 else self.b).request("GET", self.key()).status
                    for i in range(13)]
        self.assertEqual(statuses[:12], [404] * 12)
        self.assertEqual(statuses[12], 429)
        refused = self.a.request("GET", self.key())
        self.assertEqual(refused.status, 429)
        self.assertEqual(refused.header("RateLimit-Remaining"), "0")
        self.assertGreater(int(refused.header("Retry-After")), 3600)


class SharedCapacityTest(RedisCase):
    FLAGS = NO_RATE_LIMIT + ("-maxNumKV", "4", "-maxKeysPerIP", "3")

    def test_quota_and_capacity_count_keys_created_through_both(self):
        self.assertEqual(self.a.request("POST", "/q1", b"v").status, 200)
        self.assertEqual(self.b.request("POST", "/q2", b"v").status, 200)
        self.assertEqual(self.a.request("POST", "/q3", b"v").status, 200)
        over_quota = self.b.request("POST", "/q4", b"v")
        self.assertEqual(over_quota.status, 429)  # this client's -maxKeysPerIP
        # Another client (through a trusted proxy on loopback) takes the last place, then the
        # store is full for everyone.
        other = [("X-Forwarded-For", "192.0.2.7")]
        self.assertEqual(self.b.request("POST", "/o1", b"v", other).status, 200)
        full = self.a.request("POST", "/o2", b"v", [("X-Forwarded-For", "192.0.2.8")])
        self.assertEqual(full.status, 507)
        self.assertEqual(full.body, b"Store capacity reached\n")
        self.assertEqual(self.b.request("DELETE", "/q1").status, 204)
        self.assertEqual(self.a.request("POST", "/o2", b"v", other).status, 200)


class RedisStallTest(RedisCase):
    def test_a_stopped_redis_answers_503_then_service_resumes(self):
        self.assertEqual(self.a.request("POST", self.key(), b"v").status, 200)
        self.redis.kill(signal.SIGSTOP)
        try:
            started = time.monotonic()
            stalled = self.a.request("GET", self.key())
            elapsed = time.monotonic() - started
            self.assertEqual(stalled.status, 503)
            self.assertEqual(stalled.header("Retry-After"), "1")
            self.assertLess(elapsed, 5 * SLOWDOWN)  # the Redis command timeout is 2 s
            # Within the Redis command timeout (2 s) on every server, and then at once while the
            # connection is re-established; the index page needs no store and still answers.
            started = time.monotonic()
            self.assertEqual(self.b.request("POST", self.key(), b"w").status, 503)
            self.assertEqual(self.a.request("GET", self.key()).status, 503)
            self.assertEqual(self.a.request("GET", "/").status, 200)
            self.assertLess(time.monotonic() - started, 5 * SLOWDOWN)
        finally:
            self.redis.kill(signal.SIGCONT)
        deadline = time.monotonic() + 15 * SLOWDOWN
        status = None
        while time.monotonic() < deadline:
            status = self.a.request("GET", self.key()).status
            if status == 200 and self.b.request("GET", self.key()).status == 200:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200)


class RedisRestartTest(RedisCase):
    REDIS_CONFIG = ("--appendonly", "yes", "--appendfsync", "everysec")

    def test_every_acknowledged_write_survives_a_kill_9_of_redis(self):
        acknowledged = []
        for i in range(200):
            server = self.a if i % 2 else self.b
            if server.request("POST", "/aof-%d" % i, b"value-%d" % i).status == 200:
                acknowledged.append(i)
        self.assertEqual(len(acknowledged), 200)
        self.redis.kill(signal.SIGKILL)
        self.redis.start()  # same port, same directory: it replays the AOF
        deadline = time.monotonic() + 15 * SLOWDOWN
        while time.monotonic() < deadline:
            if self.a.request("GET", "/aof-0").status == 200:
                break
            time.sleep(0.2)
        for i in acknowledged:
            server = self.b if i % 2 else self.a
            got = server.request("GET", "/aof-%d" % i)
            self.assertEqual((got.status, got.body), (200, b"value-%d" % i))


class RedisFullTest(RedisCase):
    REDIS_CONFIG = ("--maxmemory-policy", "noeviction")

    def test_a_full_redis_answers_507_and_reads_keep_working(self):
        self.assertEqual(self.a.request("POST", "/before", b"v").status, 200)
        used = int(self.redis.cli("MEMORY", "STATS").split("\n")[1])  # peak.allocated
        self.redis.cli("CONFIG", "SET", "maxmemory", str(used + 300 * 1024))
        try:
            status = 200
            value = b"x" * 900
            with self.a.connect() as conn:
                for i in range(2000):
                    response = conn.request("POST", "/fill-%d" % i, value)
                    status = response.status
                    if status != 200:
                        break
            self.assertEqual(status, 507)
            self.assertEqual(response.body, b"Storage full\n")
            self.assertEqual(self.b.request("GET", "/before").status, 200)
            self.assertEqual(self.b.request("GET", "/fill-0").status, 200)
        finally:
            self.redis.cli("CONFIG", "SET", "maxmemory", "0")


class CrossServerWaitTest(RedisCase):
    """Long polls across servers: a write through one server wakes the waiters of the other."""

    REDIS_CONFIG = ("--appendonly", "yes")

    def send_wait(self, server, target, headers=(("Prefer", "wait=30"),)):
        """Opens a connection to `server` and sends a waiting GET; returns the socket."""
        sock = socket.create_connection((server.host, server.port))
        sock.sendall(build_request("GET", target, None, headers, "1.1", server.authority))
        self.addCleanup(sock.close)
        return sock

    def wake_once(self, key):
        """A waiter on b, a POST on a: returns (seconds from the POST to the answer, answer)."""
        sock = self.send_wait(self.b, key)
        self.assertFalse(answered(sock, 0.1), "answered before any write")
        started = time.monotonic()
        self.assertEqual(self.a.request("POST", key, b"hello").status, 200)
        self.assertTrue(answered(sock, 2.0 * SLOWDOWN), "not woken within 2 s")
        elapsed = time.monotonic() - started
        return elapsed, read_answer(sock)

    def test_a_post_on_one_server_wakes_a_waiter_on_the_other(self):
        elapsed, answer = self.wake_once(self.key())
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        self.assertIn(b"Preference-Applied: wait=30\r\n", answer)
        self.assertIn(b"hello", answer)
        self.assertLess(elapsed, 2.0 * SLOWDOWN)
        latencies = [self.wake_once(self.key("-%d" % i))[0] * 1000 for i in range(20)]
        print("\ncross-server wake on Redis (POST on a -> answer on b), 20 runs: median %.2f ms, "
              "max %.2f ms" % (statistics.median(latencies), max(latencies)))

    def test_a_delete_on_one_server_is_404_on_the_other_and_the_end_is_304(self):
        key = self.key()
        etag = self.a.request("POST", key, b"v").header("ETag")
        started = time.monotonic()
        unchanged = self.b.request("GET", key + "?wait=1", headers=[("If-None-Match", etag)])
        self.assertEqual(unchanged.status, 304, unchanged)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        sock = self.send_wait(self.b, key, [("Prefer", "wait=30"), ("If-None-Match", etag)])
        self.assertFalse(answered(sock, 0.2))
        self.assertEqual(self.a.request("DELETE", key).status, 204)
        self.assertTrue(read_answer(sock).startswith(b"HTTP/1.1 404 "))

    def test_a_waiter_is_answered_when_redis_dies_and_waiting_works_once_it_is_back(self):
        key = self.key()
        etag = self.a.request("POST", key, b"v").header("ETag")
        unchanged = [("If-None-Match", etag)]
        short = self.send_wait(self.b, key, [("Prefer", "wait=2")] + unchanged)
        long = self.send_wait(self.b, key, [("Prefer", "wait=60")] + unchanged)
        self.assertFalse(answered(long, 0.2))
        self.redis.kill(signal.SIGKILL)
        try:
            # Redis is down at the end of the short wait: the key cannot be read (503).
            answer = read_answer(short, timeout=10 * SLOWDOWN)
            self.assertTrue(answer.startswith(b"HTTP/1.1 503 "), answer)
        finally:
            self.redis.start()  # same port and directory: it replays the AOF
        # The long waiter could not hear writes while the subscription was down: once it is back,
        # every waiter reads its key again; this one finds it unchanged and parks again, and a
        # write through the other server then wakes it.
        deadline = time.monotonic() + 15 * SLOWDOWN
        while time.monotonic() < deadline:
            if self.a.request("GET", key).status == 200 and self.b.request("GET", key).status == 200:
                break
            time.sleep(0.1)
        if answered(long, 0.5):
            self.fail("answered after the outage: %r" % read_answer(long, 1))
        started = time.monotonic()
        self.assertEqual(self.a.request("POST", key, b"after the outage").status, 200)
        answer = read_answer(long, timeout=10 * SLOWDOWN)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        self.assertIn(b"after the outage", answer)
        self.assertLess(time.monotonic() - started, 2 * SLOWDOWN)

class SharedPkLimitsTest(RedisCase):
    """/pk/ writes charge the one bucket a client has across every server, as keys do."""

    FLAGS = ("-maxRequests", "12", "-resetDuration", "1000h", "-maxNumKV", "1000")

    def test_signed_record_writes_drain_one_bucket_across_both_servers(self):
        records = sign(*[(7, 1741107004412159 + i, b"v%d" % i) for i in range(5)])
        target = "/pk/" + records[0][0]
        statuses = []
        remaining = []
        for i, (_, record) in enumerate(records):
            response = (self.a if i % 2 else self.b).request("PUT", target, record)
            statuses.append(response.status)
            remaining.append(response.header("RateLimit-Remaining"))
        # 12 tokens, 3 a write: four writes through alternating servers, then 429 (on a server
        # whose own limiter has spent only 6).
        self.assertEqual(statuses, [204, 204, 204, 204, 429], remaining)
        self.assertEqual(remaining, ["9", "6", "3", "0", "0"])
        read = self.b.request("GET", target)
        self.assertEqual(read.status, 429)  # a read costs 1 of the same bucket, empty
        self.assertEqual(self.a.request("GET", "/plain-key").status, 429)


@unittest.skipUnless(REDIS_SERVER and REDIS_CLI, "redis-server is not installed")
class RedisStartupTest(unittest.TestCase):
    def run_to_exit(self, *args):
        return run_server_to_exit(["-port", "0", "-l", "127.0.0.1", *args], timeout=20)

    def test_refusals_are_one_line_and_exit_1(self):
        redis = RedisProcess().start()
        try:
            redis.cli("SET", "rdv:not-ours", "x")
            code, _, err = self.run_to_exit("-db", redis.url)
            self.assertEqual(code, 1, err)
            self.assertIn("did not write (such as rdv:not-ours)", err)
        finally:
            redis.stop()
        code, _, err = self.run_to_exit("-db", "redis://:hunter2@127.0.0.1:%d/0" % free_port())
        self.assertEqual(code, 1, err)
        self.assertIn("cannot connect to redis at redis://127.0.0.1:", err)
        self.assertNotIn("hunter2", err)

    def test_a_malformed_url_is_a_flag_error(self):
        code, _, err = self.run_to_exit("-db", "redis://host:99999")
        self.assertEqual(code, 2)
        self.assertIn("for flag -db", err)


if __name__ == "__main__":
    unittest.main()
