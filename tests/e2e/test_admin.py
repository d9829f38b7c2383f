"""The admin listener (-adminListen) and the access log (-accessLog).

/metrics is Prometheus text (format 0.0.4) that `promtool check metrics` accepts, taken under
load, and that a real Prometheus scrapes (its HTTP API gives rendezvous_requests_total back).
/healthz answers while the process runs; /readyz answers 200, then 503 from SIGTERM on while a
slow request holds the shutdown grace, and while Redis (-db redis://) is down. Every other admin
path is 404 (never a key). The admin listener refuses the public address and port. The access log has one line per request with the
documented fields and no secret, and is reopened on SIGHUP after logrotate renamed it.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from harness import (NO_RATE_LIMIT, SLOWDOWN, SOCKET_TIMEOUT_S, Conn, Server,
                     run_server_to_exit)

ADMIN_RE = re.compile(r"admin listener on (\S+):(\d+)")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUIRED_FAMILIES = {
    "rendezvous_requests_total": "counter",
    "rendezvous_request_duration_seconds": "histogram",
    "rendezvous_rate_limited_total": "counter",
    "rendezvous_keys": "gauge",
    "rendezvous_connections": "gauge",
    "rendezvous_connections_refused_total": "counter",
    "rendezvous_store_operations_total": "counter",
    "rendezvous_store_operation_duration_seconds": "histogram",
    "rendezvous_build_info": "gauge",
    "process_start_time_seconds": "gauge",
    "process_open_fds": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
}
LMDB_FAMILIES = ("rendezvous_lmdb_map_bytes", "rendezvous_lmdb_map_limit_bytes",
                 "rendezvous_lmdb_commits_total", "rendezvous_lmdb_committed_operations_total")
# time client method "path" status bytes microseconds
ACCESS_LINE_RE = re.compile(
    r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) ([A-Z]+) "((?:[^"\\]|\\.)*)" (\d{3}) (\d+) '
    r'(\d+)$')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout * SLOWDOWN
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class AdminServer(Server):
    """A Server with -adminListen 127.0.0.1:0; admin_port is read from the start-up log."""

    def __init__(self, *flags, **kwargs):
        super().__init__("-adminListen", "127.0.0.1:0", *flags, **kwargs)
        self.admin_port = None

    def start(self):
        super().start()

        def admin_line():
            match = ADMIN_RE.search(self.output())
            return match and int(match.group(2))
        self.admin_port = wait_for(admin_line, 5.0, "the admin listener line")
        return self

    def admin(self):
        return Conn("127.0.0.1", self.admin_port, socket.AF_INET,
                    "127.0.0.1:%d" % self.admin_port, SOCKET_TIMEOUT_S)

    def scrape(self):
        with self.admin() as conn:
            response = conn.request("GET", "/metrics")
        assert response.status == 200, response
        return response


def samples(text):
    """{'name{labels}': value} of every sample line."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def types(text):
    return dict(line.split(" ")[2:4] for line in text.splitlines() if line.startswith("# TYPE "))


class MetricsTest(unittest.TestCase):

    def setUp(self):
        self.server = AdminServer(*NO_RATE_LIMIT).start()
        self.addCleanup(self.server.stop)

    def test_metrics_is_prometheus_text_with_every_required_family(self):
        response = self.server.scrape()
        self.assertEqual(response.header("Content-Type"), PROMETHEUS_CONTENT_TYPE)
        found = types(response.text)
        for name, kind in REQUIRED_FAMILIES.items():
            self.assertEqual(found.get(name), kind, name)
        values = samples(response.text)
        build_info = [k for k in values if k.startswith("rendezvous_build_info{version=")]
        self.assertEqual(len(build_info), 1, build_info)
        self.assertEqual(values[build_info[0]], 1)
        self.assertAlmostEqual(values["process_start_time_seconds"], time.time(), delta=60)
        # Against the kernel's own figures for the server's process.
        with open("/proc/%d/status" % self.server.proc.pid) as status:
            rss_kib = int(next(l for l in status if l.startswith("VmRSS:")).split()[1])
        self.assertLess(abs(values["process_resident_memory_bytes"] / 1024 - rss_kib),
                        max(4096, rss_kib // 4))
        self.assertGreater(values["process_cpu_seconds_total"], 0)
        self.assertLess(values["process_cpu_seconds_total"], 60)

    def test_request_counts_follow_the_public_api_and_scrapes_are_not_counted(self):
        get_404 = 'rendezvous_requests_total{method="GET",code="404"}'
        before = samples(self.server.scrape().text)
        with self.server.connect() as conn:
            for i in range(7):
                self.assertEqual(conn.request("GET", "/missing%d" % i).status, 404)
            self.assertEqual(conn.request("POST", "/present", b"v").status, 200)
        after = samples(self.server.scrape().text)
        self.assertEqual(after[get_404] - before[get_404], 7)
        post_ok = 'rendezvous_requests_total{method="POST",code="200"}'
        self.assertEqual(after[post_ok] - before[post_ok], 1)
        self.assertEqual(after["rendezvous_keys"], 1)
        put_ok = 'rendezvous_store_operations_total{op="put",result="ok"}'
        self.assertEqual(after[put_ok] - before[put_ok], 1)
        self.assertGreaterEqual(after["rendezvous_connections"], 0)

    def test_health_endpoints_and_everything_else_is_404_never_a_key(self):
        with self.server.admin() as conn:
            health = conn.request("GET", "/healthz")
            self.assertEqual((health.status, health.body), (200, b"ok\n"))
            ready = conn.request("GET", "/readyz")
            self.assertEqual((ready.status, ready.body), (200, b"ready\n"))
            conn.send(conn.build("HEAD", "/metrics"))
            self.assertEqual(conn.read_response(head=True).status, 200)
            self.assertEqual(conn.request("POST", "/metrics", b"x").status, 405)
            for path in ("/", "/key", "/metrics/x"):
                missing = conn.request("GET", path)
                self.assertEqual((missing.status, missing.body), (404, b"Not Found\n"), path)
            self.assertEqual(conn.request("POST", "/key", b"v").status, 404)
        self.assertEqual(self.server.request("GET", "/key").status, 404)  # nothing stored

    @unittest.skipUnless(shutil.which("promtool"),
                         "promtool not installed (Debian package prometheus; make test-deps)")
    def test_promtool_accepts_a_scrape_taken_under_load(self):
        stop = threading.Event()
        sent = [0]

        def load():
            with self.server.connect() as conn:
                while not stop.is_set() and sent[0] < 400:
                    key = "/load%d" % (sent[0] % 20)
                    conn.request("POST", key, b"v")
                    conn.request("GET", key)
                    sent[0] += 2
        thread = threading.Thread(target=load)
        thread.start()
        try:
            wait_for(lambda: sent[0] >= 100, 10.0, "load")
            text = self.server.scrape().body
        finally:
            stop.set()
            thread.join()
        checked = subprocess.run(["promtool", "check", "metrics"], input=text,
                                 capture_output=True, timeout=30)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        # promtool reports lint problems (names, units, help) on stdout or stderr too.
        self.assertEqual((checked.stdout + checked.stderr).strip(), b"", text[:2000])
        values = samples(text.decode())
        self.assertGreater(values['rendezvous_requests_total{method="GET",code="200"}'], 0)


class LmdbMetricsTest(unittest.TestCase):

    def test_lmdb_map_size_and_commit_batches_are_exported(self):
        with tempfile.TemporaryDirectory() as directory:
            server = AdminServer(*NO_RATE_LIMIT, "-db", os.path.join(directory, "store.db"))
            with server:
                self.assertEqual(server.request("POST", "/k", b"v").status, 200)
                values = samples(server.scrape().text)
        for name in LMDB_FAMILIES:
            self.assertIn(name, values)
        self.assertGreater(values["rendezvous_lmdb_map_bytes"], 0)
        self.assertGreaterEqual(values["rendezvous_lmdb_map_limit_bytes"],
                                values["rendezvous_lmdb_map_bytes"])
        self.assertGreaterEqual(values["rendezvous_lmdb_commits_total"], 1)
        self.assertGreaterEqual(values["rendezvous_lmdb_committed_operations_total"], 1)


@unittest.skipUnless(shutil.which("prometheus"),
                     "prometheus not installed (Debian package prometheus; make test-deps)")
class RealPrometheusTest(unittest.TestCase):

    def test_prometheus_scrapes_the_admin_listener_and_reads_the_request_count(self):
        server = AdminServer(*NO_RATE_LIMIT).start()
        self.addCleanup(server.stop)
        with server.connect() as conn:
            for i in range(5):
                self.assertEqual(conn.request("GET", "/nothing%d" % i).status, 404)
        directory = tempfile.mkdtemp(prefix="rdv_prometheus_")
        self.addCleanup(shutil.rmtree, directory, True)
        config = os.path.join(directory, "prometheus.yml")
        with open(config, "w") as out:
            out.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                      "scrape_configs:\n  - job_name: rendezvous\n    static_configs:\n"
                      "      - targets: ['127.0.0.1:%d']\n" % server.admin_port)
        port = free_port()
        log = open(os.path.join(directory, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(directory, "data"),
             "--web.listen-address=127.0.0.1:%d" % port],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def stop_prometheus():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # by PID
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.addCleanup(stop_prometheus)

        query = ("http://127.0.0.1:%d/api/v1/query?query=" % port
                 + 'rendezvous_requests_total%7Bmethod%3D%22GET%22%2Ccode%3D%22404%22%7D')

        def sample():
            try:
                with urllib.request.urlopen(query, timeout=2) as answer:
                    result = json.load(answer)["data"]["result"]
            except (OSError, ValueError, KeyError):
                return None
            return result[0] if result else None

        try:
            found = wait_for(sample, 60.0, "a rendezvous_requests_total sample in Prometheus")
        except AssertionError:
            log.flush()
            with open(os.path.join(directory, "prometheus.log"), "rb") as text:
                raise AssertionError("Prometheus log:\n" + text.read()[-4000:].decode("replace"))
        self.assertEqual(found["metric"]["job"], "rendezvous")
        self.assertEqual(float(found["value"][1]), 5.0)


class ReadinessTest(unittest.TestCase):

    def test_readyz_is_503_after_sigterm_while_a_slow_request_holds_the_grace(self):
        server = AdminServer(*NO_RATE_LIMIT).start()
        admin = server.admin()
        self.addCleanup(admin.close)
        self.assertEqual(admin.request("GET", "/readyz").status, 200)
        conn = server.connect()
        self.addCleanup(conn.close)
        self.assertEqual(conn.request("POST", "/warm", b"w").status, 200)
        conn.send(conn.build("POST", "/inflight", content_length=10) + b"abc")
        time.sleep(0.2)  # let the server read the partial request
        server.send_signal(signal.SIGTERM)

        def not_ready():
            response = admin.request("GET", "/readyz")
            return response if response.status == 503 else None
        response = wait_for(not_ready, 5.0, "/readyz to answer 503")
        self.assertEqual(response.body, b"shutting down\n")
        self.assertEqual(admin.request("GET", "/healthz").status, 200)  # still running
        self.assertIsNone(server.proc.poll())
        conn.send(b"defghij")
        self.assertEqual(conn.read_response().status, 200)
        self.assertEqual(server.wait_exit(), 0, server.output())
        server.check_no_sanitizer_reports()


@unittest.skipUnless(shutil.which("redis-server") and shutil.which("redis-cli"),
                     "redis-server is not installed")
class RedisReadinessTest(unittest.TestCase):

    def test_readyz_follows_redis_and_the_connections_gauge_shows_it(self):
        from test_redis import RedisProcess
        redis = RedisProcess().start()
        self.addCleanup(redis.stop)
        server = AdminServer(*NO_RATE_LIMIT, "-db", redis.url).start()
        self.addCleanup(server.stop)
        admin = server.admin()
        self.addCleanup(admin.close)
        self.assertEqual(admin.request("GET", "/readyz").status, 200)
        self.assertGreater(samples(server.scrape().text)["rendezvous_redis_connections_up"], 0)
        self.assertEqual(samples(server.scrape().text)["rendezvous_redis_subscribed"], 1)
        redis.kill()

        def not_ready():
            response = admin.request("GET", "/readyz")
            return response if response.status == 503 else None
        wait_for(not_ready, 10.0, "/readyz to answer 503 with Redis down")
        self.assertEqual(admin.request("GET", "/healthz").status, 200)
        self.assertEqual(samples(server.scrape().text)["rendezvous_redis_connections_up"], 0)
        wait_for(lambda: samples(server.scrape().text)["rendezvous_redis_subscribed"] == 0, 10.0,
                 "the subscription gauge to fall to 0 with Redis down")


class AdminFlagTest(unittest.TestCase):

    def test_the_public_address_and_port_are_refused_with_one_line_and_exit_2(self):
        port = str(free_port())
        code, out, err = run_server_to_exit(
            ["-l", "127.0.0.1", "-port", port, "-db", "", "-adminListen", "127.0.0.1:" + port])
        self.assertEqual(code, 2, out + err)
        self.assertEqual((out + err).count("\n"), 1, out + err)
        self.assertIn("-adminListen", out + err)
        self.assertIn("public address and port", out + err)

    def test_without_the_flag_there_is_no_admin_listener(self):
        with Server() as server:
            self.assertNotIn("admin listener", server.output())


class AccessLogTest(unittest.TestCase):

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="rdv_access_")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.path = os.path.join(self.directory, "access.log")

    def read_lines(self, path=None):
        try:
            with open(path or self.path) as log:
                return log.read().splitlines()
        except FileNotFoundError:
            return []

    def test_one_line_per_request_with_the_fields_and_no_secret(self):
        server = Server(*NO_RATE_LIMIT, "-accessLog", self.path).start()
        self.addCleanup(server.stop)
        with server.connect() as conn:
            self.assertEqual(conn.request("POST", "/logged%20key?x=1", b"value",
                                          headers=[("X-Owner-Secret", "TOPSECRET")]).status, 200)
            self.assertEqual(conn.request("GET", "/logged%20key").status, 200)
            self.assertEqual(conn.request("GET", '/quote"x').status, 404)
        lines = wait_for(lambda: len(self.read_lines()) >= 3 and self.read_lines(), 5.0,
                         "three access log lines (flushed within a second)")
        self.assertEqual(len(lines), 3, lines)
        parsed = [ACCESS_LINE_RE.match(line) for line in lines]
        self.assertTrue(all(parsed), lines)
        post, get, odd = (match.groups() for match in parsed)
        self.assertEqual(post[1:], ("127.0.0.1", "POST", "/logged%20key", "200", "2", post[6]))
        self.assertEqual(get[1:6], ("127.0.0.1", "GET", "/logged%20key", "200", "5"))
        self.assertEqual(odd[3], '/quote\\"x')
        text = "\n".join(lines)
        for leak in ("TOPSECRET", "value", "x=1"):
            self.assertNotIn(leak, text)
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o640)

    def test_sighup_reopens_the_file_after_a_rename(self):
        server = Server(*NO_RATE_LIMIT, "-accessLog", self.path).start()
        self.addCleanup(server.stop)
        self.assertEqual(server.request("GET", "/before").status, 404)
        wait_for(lambda: self.read_lines(), 5.0, "the first line")
        rotated = self.path + ".1"
        os.rename(self.path, rotated)
        mark = server.line_count()
        server.send_signal(signal.SIGHUP)
        wait_for(lambda: any("reopened the access log" in line for line in server.lines_since(mark)), 5.0,
                 "the reopen log line")
        self.assertEqual(server.request("GET", "/after").status, 404)
        lines = wait_for(lambda: self.read_lines(), 5.0, "a line in the new file")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('"/after"', lines[0])
        self.assertTrue(all('"/after"' not in line for line in self.read_lines(rotated)))
        self.assertIsNone(server.proc.poll())

    def test_dash_writes_to_stderr(self):
        with Server(*NO_RATE_LIMIT, "-accessLog", "-") as server:
            self.assertEqual(server.request("GET", "/on-stderr").status, 404)
            wait_for(lambda: '"/on-stderr" 404' in server.output("stderr"), 5.0, "the line")


if __name__ == "__main__":
    unittest.main()
