"""Black-box harness: starts the real rendezvous-server on a free loopback port and talks raw HTTP.

Standard library only. Every socket operation has a timeout and every wait has a deadline, so a
hung server fails a test instead of hanging it; a watchdog ends the whole file (killing every
server it started) if it runs far past its budget.

Run one file by hand:  cd tests/e2e && RDV_SERVER=../../build/rendezvous-server \
                          python3 -m unittest -v test_api

Environment:
  RDV_SERVER    path of the server binary (default: <repo>/build/rendezvous-server)
  RDV_SANITIZE  "", "address" or "thread": the binary's sanitizer build. Sanitizer reports in the
                server's output fail the test, and time limits are stretched a little.
"""

import concurrent.futures
import ctypes
import faulthandler
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

# Re-exported so that test files import everything from one place.
from http_client import (Conn, ProtocolError, Response, answered, build_request,  # noqa: F401
                         pipeline, read_answer)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER_BINARY = (os.environ.get("RDV_SERVER")
                 or os.path.join(REPO_ROOT, "build", "rendezvous-server"))
SANITIZE = os.environ.get("RDV_SANITIZE", "")

# Sanitizer builds are several times slower; bounds that are not about the server's own timers
# grow by this factor.
SLOWDOWN = {"": 1.0, "address": 2.0, "thread": 4.0}.get(SANITIZE, 3.0)

SOCKET_TIMEOUT_S = 5.0 * SLOWDOWN
STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0
WATCHDOG_S = min(280.0, 120.0 * SLOWDOWN)  # ctest kills at 300 s

LISTENING_RE = re.compile(r"listening on (\S+):(\d+)")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")

# Flags every test server gets (loopback only, free port, in-memory store, no localhost noise).
BASE_FLAGS = ("-port", "0", "-db", "", "-disableLocalIPWaring")
# For tests that are not about rate limiting.
NO_RATE_LIMIT = ("-maxRequests", "1000000")

ERROR_CONTENT_TYPE = "text/plain; charset=utf-8"

_live_servers = []
_live_lock = threading.Lock()


def _watchdog():
    sys.stderr.write("\n*** e2e watchdog: the test file ran past %.0f s; killing servers ***\n"
                     % WATCHDOG_S)
    faulthandler.dump_traceback(all_threads=True)
    with _live_lock:
        for server in list(_live_servers):
            try:
                server.proc.kill()
            except OSError:
                pass
    os._exit(3)


_watchdog_timer = threading.Timer(WATCHDOG_S, _watchdog)
_watchdog_timer.daemon = True
_watchdog_timer.start()


def _die_with_parent():
    """preexec_fn: the server gets SIGKILL if the test process dies (e.g. killed by ctest)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # pylint: disable=broad-except
        pass


def server_command(*flags):
    return [SERVER_BINARY, *flags]


def run_server_to_exit(args, timeout=10.0):
    """Runs the binary with exactly `args` (for flag tests); returns (exit code, stdout, stderr)."""
    if not os.path.exists(SERVER_BINARY):
        raise AssertionError("server binary not found: %s (set RDV_SERVER)" % SERVER_BINARY)
    proc = subprocess.run([SERVER_BINARY, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout * SLOWDOWN, preexec_fn=_die_with_parent, check=False)
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"))


def sanitizer_reports(text):
    return [marker for marker in SANITIZER_MARKERS if marker in text]


class ServerError(AssertionError):
    pass


class Server:
    """A running rendezvous-server. Use as a context manager, or start()/stop() explicitly.

    Always started with -l <listen> -port 0 -db "" -disableLocalIPWaring, then `flags`.
    """

    def __init__(self, *flags, listen="127.0.0.1", base_flags=BASE_FLAGS):
        self.flags = list(flags)
        self.listen = listen
        self.base_flags = list(base_flags)
        self.proc = None
        self.host = None
        self.port = None
        self.family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        self._lines = []  # (stream name, line) in arrival order
        self._cond = threading.Condition()
        self._readers = []
        self.exit_code = None
        self.shutdown_failure_reported = False

    # ----- lifecycle -----

    def start(self):
        if not os.path.exists(SERVER_BINARY):
            raise ServerError("server binary not found: %s (set RDV_SERVER)" % SERVER_BINARY)
        args = ["-l", self.listen, *self.base_flags, *self.flags]
        self.proc = subprocess.Popen(server_command(*args), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        with _live_lock:
            _live_servers.append(self)
        for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            reader = threading.Thread(target=self._drain, args=(name, stream), daemon=True)
            reader.start()
            self._readers.append(reader)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S * SLOWDOWN
        with self._cond:
            while True:
                match = None
                for _, line in self._lines:
                    match = LISTENING_RE.search(line)
                    if match:
                        break
                if match:
                    break
                if self.proc.poll() is not None and all(not r.is_alive() for r in self._readers):
                    raise ServerError("server exited with %s before listening; output:\n%s"
                                      % (self.proc.returncode, self.output()))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.proc.kill()
                    self.proc.wait(5)
                    raise ServerError("no 'listening on' line within %.0f s; output:\n%s"
                                      % (STARTUP_TIMEOUT_S * SLOWDOWN, self.output()))
                self._cond.wait(min(remaining, 0.1))
        self.host = match.group(1).strip("[]")
        self.port = int(match.group(2))
        # A wildcard listener is reached over loopback.
        if self.host in ("0.0.0.0", ""):
            self.host = "127.0.0.1"
        elif self.host == "::":
            self.host = "::1"
        return self

    def _drain(self, name, stream):
        for raw in iter(stream.readline, b""):
            with self._cond:
                self._lines.append((name, raw.decode("utf-8", "replace").rstrip("\n")))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def output(self, stream=None):
        with self._cond:
            return "\n".join(line for name, line in self._lines if stream in (None, name))

    def line_count(self):
        with self._cond:
            return len(self._lines)

    def lines_since(self, index):
        with self._cond:
            return [line for _, line in self._lines[index:]]

    def send_signal(self, signum=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def wait_exit(self, timeout=SHUTDOWN_TIMEOUT_S):
        """Waits for the process to exit; on timeout kills it and raises."""
        try:
            self.exit_code = self.proc.wait(timeout * SLOWDOWN)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.exit_code = self.proc.wait(5)
            self._finish()
            self.shutdown_failure_reported = True
            raise ServerError("server did not exit within %.0f s of the signal; output:\n%s"
                              % (timeout * SLOWDOWN, self.output()))
        self._finish()
        return self.exit_code

    def _finish(self):
        for reader in self._readers:
            reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        with _live_lock:
            if self in _live_servers:
                _live_servers.remove(self)

    def stop(self, signum=signal.SIGTERM, check=True):
        """Signals the server, waits for it, and (if check) asserts a clean exit."""
        if self.proc is None:
            return None
        if self.exit_code is None:
            self.send_signal(signum)
            self.wait_exit()
        if check:
            self.check_clean_exit()
        return self.exit_code

    def check_clean_exit(self):
        if self.shutdown_failure_reported:
            return  # wait_exit already failed the test; do not report it twice
        if self.exit_code != 0:
            raise ServerError("server exit code %s (expected 0); output:\n%s"
                              % (self.exit_code, self.output()))
        self.check_no_sanitizer_reports()

    def check_no_sanitizer_reports(self):
        reports = sanitizer_reports(self.output())
        if reports:
            raise ServerError("sanitizer reports %s in server output:\n%s"
                              % (reports, self.output()))

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
            return False
        # The test already failed: stop without masking its error, but show the server's side.
        try:
            self.stop(check=False)
        except ServerError as error:
            sys.stderr.write(str(error) + "\n")
        sys.stderr.write("--- server output ---\n%s\n--- end ---\n" % self.output()[-20000:])
        return False

    # ----- clients -----

    @property
    def authority(self):
        return "[%s]:%d" % (self.host, self.port) if ":" in self.host else "%s:%d" % (
            self.host, self.port)

    def connect(self, timeout=None):
        return Conn(self.host, self.port, self.family, self.authority,
                    timeout if timeout is not None else SOCKET_TIMEOUT_S)

    def request(self, method, target, body=None, headers=(), **kwargs):
        """One request on a fresh connection, which is then closed."""
        with self.connect() as conn:
            return conn.request(method, target, body, headers, **kwargs)


class HttpTestCase(unittest.TestCase):
    """Assertions on responses, and per-test helpers. Subclasses provide self.server."""

    server = None

    def fresh(self):
        """A new connection (closed at test end), for requests whose answer closes it."""
        conn = self.server.connect()
        self.addCleanup(conn.close)
        return conn

    def key(self, suffix=""):
        """A key unique to this test."""
        return self.id().rsplit(".", 1)[-1][:60] + suffix

    # ----- shared assertions -----

    def assert_common_headers(self, response):
        self.assertIsNotNone(response.header("Date"), response)
        if response.status >= 200:
            self.assertIsNotNone(response.header("Content-Length"), response)
            self.assertIsNone(response.header("Transfer-Encoding"), response)

    def assert_error(self, response, status, message, head=False):
        """An application/protocol error: status, body = message + newline, error headers."""
        self.assertEqual(response.status, status, response)
        if not head:
            self.assertEqual(response.body, (message + "\n").encode(), response)
        self.assertEqual(response.header("Content-Type"), ERROR_CONTENT_TYPE, response)
        self.assertEqual(response.header("X-Content-Type-Options"), "nosniff", response)
        self.assert_common_headers(response)

    def assert_ok(self, response, body=b"OK"):
        """A successful POST: 200, text/plain, exact body (OK or the client address)."""
        if isinstance(body, str):
            body = body.encode()
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.body, body, response)
        self.assertEqual(response.header("Content-Type"), "text/plain; charset=utf-8", response)
        self.assertEqual(response.header("Content-Length"), str(len(body)), response)
        self.assert_common_headers(response)

    def assert_value(self, response, value):
        """A successful GET: 200, octet-stream, the exact bytes."""
        if isinstance(value, str):
            value = value.encode()
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.body, value, response)
        self.assertEqual(response.header("Content-Type"), "application/octet-stream", response)
        self.assertEqual(response.header("Content-Length"), str(len(value)), response)
        self.assert_common_headers(response)

    def assert_not_found(self, response, head=False):
        self.assert_error(response, 404, "Key not found", head=head)

    def assert_method_not_allowed(self, response, allow="GET, HEAD, POST, PUT, DELETE, OPTIONS"):
        self.assert_error(response, 405, "Method Not Allowed")
        self.assertEqual(response.header("Allow"), allow, response)

    def assert_closed(self, conn, timeout=4.0):
        # Generous: a server may linger (reading leftovers) for ~2 s before the close is seen.
        self.assertTrue(conn.closed_by_peer(timeout * SLOWDOWN),
                        "the server should have closed the connection")

    def assert_open(self, conn):
        """The connection still serves requests."""
        response = conn.request("GET", "/" + self.key("-still-open-probe"))
        self.assertEqual(response.status, 404, response)


class ServerTestCase(HttpTestCase):
    """A test class sharing one server (flags in SERVER_FLAGS) across its tests; self.conn is a
    fresh keep-alive connection per test."""

    SERVER_FLAGS = NO_RATE_LIMIT

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(*cls.SERVER_FLAGS).start()

    @classmethod
    def tearDownClass(cls):
        server, cls.server = cls.server, None
        if server is not None:
            server.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.conn = self.server.connect()
        self.addCleanup(self.conn.close)


class PerTestServerCase(HttpTestCase):
    """Each test starts its own server with start(*flags); self.conn connects to it."""

    conn = None

    def start(self, *flags, **kwargs):
        server = Server(*flags, **kwargs).start()
        self.addCleanup(server.stop)
        self.server = server
        self.conn = server.connect()
        self.addCleanup(self.conn.close)
        return server


def race(server, requests):
    """One connection per request, all released at once; returns the responses in order."""
    conns = [server.connect() for _ in requests]
    barrier = threading.Barrier(len(requests))

    def fire(index):
        conn = conns[index]
        data = conn.build(*requests[index])
        barrier.wait(10 * SLOWDOWN)
        conn.send(data)
        return conn.read_response()

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(requests)) as pool:
            return list(pool.map(fire, range(len(requests))))
    finally:
        for conn in conns:
            conn.close()
