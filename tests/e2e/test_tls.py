"""TLS without a proxy: -tlsCert/-tlsKey/-tlsPort, SIGHUP reload, -redirectHTTP, start-up errors.

Real OpenSSL on both sides: setUpClass makes a test CA and server certificates with the `openssl`
command in a temporary directory; the clients are curl (--cacert), `openssl s_client` and Python's
ssl module. Each test starts its own server on free ports (-port 0 -tlsPort 0).
"""

import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import SLOWDOWN, SOCKET_TIMEOUT_S, Conn, Server, run_server_to_exit

TLS_LINE_RE = re.compile(r"listening for TLS on (\S+):(\d+)")
TOOL_TIMEOUT_S = 20 * SLOWDOWN


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True,
                   timeout=TOOL_TIMEOUT_S)


class TlsServer(Server):
    """A Server with a TLS listener; tls_port is read from its 'listening for TLS on' line."""

    def __init__(self, cert, key, *flags):
        super().__init__("-tlsCert", cert, "-tlsKey", key, "-tlsPort", "0", *flags)
        self.tls_port = None

    def start(self):
        super().start()
        self.tls_port = int(self.wait_line(TLS_LINE_RE).group(2))
        return self

    def wait_line(self, regex, since=0, timeout=10.0):
        deadline = time.monotonic() + timeout * SLOWDOWN
        while time.monotonic() < deadline:
            for line in self.lines_since(since):
                match = regex.search(line)
                if match:
                    return match
            time.sleep(0.02)
        raise AssertionError("no line matching %r; output:\n%s" % (regex.pattern, self.output()))


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("openssl", "curl"):
            if shutil.which(tool) is None:
                raise AssertionError("%s is needed (make test-deps installs it)" % tool)
        cls.dir = tempfile.mkdtemp(prefix="rdv-tls-")
        d = cls.dir
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=rdv test CA",
                cwd=d)
        with open(os.path.join(d, "san.ext"), "w") as ext:
            ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        for name, serial in (("one", "0x1001"), ("two", "0x2002")):
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=localhost",
                    cwd=d)
            openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-set_serial", serial, "-days", "2", "-extfile", "san.ext",
                    "-out", name + ".pem", cwd=d)
        cls.ca = os.path.join(d, "ca.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, *flags, cert="one.pem", key="one.key"):
        server = TlsServer(self.path(cert), self.path(key), *flags,
                           "-maxRequests", "1000000").start()
        self.addCleanup(server.stop)
        return server

    def context(self):
        context = ssl.create_default_context(cafile=self.ca)
        return context

    def tls_conn(self, server, context=None, session=None):
        conn = Conn("127.0.0.1", server.tls_port, socket.AF_INET, "localhost", SOCKET_TIMEOUT_S)
        conn.sock = (context or self.context()).wrap_socket(conn.sock, server_hostname="localhost",
                                                            session=session)
        self.addCleanup(conn.close)
        return conn

    def curl(self, server, *args, input=None):
        result = subprocess.run(
            ["curl", "-sS", "--cacert", self.ca, "-w", "\n%{http_code}", *args[:-1],
             "https://localhost:%d%s" % (server.tls_port, args[-1])],
            capture_output=True, timeout=TOOL_TIMEOUT_S, check=False, input=input)
        self.assertEqual(result.returncode, 0, result.stderr)
        body, _, code = result.stdout.decode().rpartition("\n")
        return int(code), body

    # ----- serving -----

    def test_curl_stores_and_reads_a_key_over_tls(self):
        server = self.start()
        self.assertEqual(self.curl(server, "-X", "POST", "--data", "hello", "/tls-key"),
                         (200, "OK"))
        self.assertEqual(self.curl(server, "/tls-key"), (200, "hello"))

    def test_several_requests_share_one_tls_connection(self):
        server = self.start()
        conn = self.tls_conn(server)
        self.assertEqual(conn.request("POST", "/ka", body=b"v1").status, 200)
        for _ in range(3):
            response = conn.request("GET", "/ka")
            self.assertEqual((response.status, response.body), (200, b"v1"))
        self.assertEqual(conn.sock.version()[:5], "TLSv1")
        self.assertIn(conn.sock.version(), ("TLSv1.2", "TLSv1.3"))

    def test_a_large_value_reaches_a_slow_tls_reader_whole(self):
        # Records the socket does not take at once wait for its writable edge. The value is larger
        # than the kernel's largest send buffer on loopback (4 MiB), and the client reads in small
        # pieces from a small receive buffer, so the server meets a full socket many times.
        server = self.start("-maxValueSize", "8000000")
        value = random.Random(7).randbytes(6_000_000)
        self.assertEqual(self.curl(server, "-X", "POST", "--data-binary", "@-", "/big-tls",
                                   input=value), (200, "OK"))
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(SOCKET_TIMEOUT_S)
        raw.connect(("127.0.0.1", server.tls_port))
        sock = self.context().wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(sock.close)
        sock.sendall(b"GET /big-tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + len(value):
            piece = sock.recv(4096)
            self.assertTrue(piece, "the server closed after %d bytes" % len(got))
            got += piece
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:100])
        self.assertEqual(body, value)

    def test_pipelined_requests_over_tls_are_all_answered_in_order(self):
        server = self.start()
        self.assertEqual(self.curl(server, "-X", "POST", "--data", "p", "/pipe-tls"), (200, "OK"))
        conn = self.tls_conn(server)
        conn.sock.sendall(b"".join(b"GET /pipe-tls?n=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % i
                                   for i in range(50)))
        got = b""
        while got.count(b"HTTP/1.1 200 ") < 50:
            piece = conn.sock.recv(65536)
            self.assertTrue(piece, "closed after %d answers" % got.count(b"HTTP/1.1 200 "))
            got += piece
        self.assertEqual(got.count(b"HTTP/1.1 200 "), 50)

    def test_a_key_is_the_same_on_both_listeners(self):
        server = self.start()
        self.assertEqual(self.curl(server, "-X", "POST", "--data", "shared", "/both"),
                         (200, "OK"))
        self.assertEqual(server.request("GET", "/both").body, b"shared")
        self.assertEqual(server.request("POST", "/back", body=b"plain").status, 200)
        self.assertEqual(self.curl(server, "/back"), (200, "plain"))

    def test_the_ip_key_of_a_tls_client_is_its_tcp_peer(self):
        # No trusted proxies: the X-Forwarded-For a TLS client sends does not move its address.
        server = self.start("-trustedProxies", "")
        conn = self.tls_conn(server)
        response = conn.request("POST", "/ip/svc", body=b"mine",
                                headers=[("X-Forwarded-For", "203.0.113.9")])
        self.assertEqual(response.status, 200)
        self.assertEqual(server.request("GET", "/ip/127.0.0.1/svc").body, b"mine")
        self.assertEqual(server.request("GET", "/ip/203.0.113.9/svc").status, 404)

    def test_alpn_selects_http11_and_refuses_an_h2_only_client(self):
        server = self.start()
        context = self.context()
        context.set_alpn_protocols(["h2", "http/1.1"])
        conn = self.tls_conn(server, context)
        self.assertEqual(conn.sock.selected_alpn_protocol(), "http/1.1")
        h2_only = self.context()
        h2_only.set_alpn_protocols(["h2"])
        with self.assertRaises(ssl.SSLError) as refused:
            self.tls_conn(server, h2_only)
        self.assertIn("NO APPLICATION PROTOCOL", str(refused.exception).upper().replace("_", " "))

    def test_a_returning_client_resumes_its_session(self):
        server = self.start()
        context = self.context()
        first = self.tls_conn(server, context)
        self.assertEqual(first.request("GET", "/").status, 200)  # reads the session tickets too
        session = first.sock.session
        self.assertIsNotNone(session)
        second = self.tls_conn(server, context, session=session)
        self.assertTrue(second.sock.session_reused)
        self.assertEqual(second.request("GET", "/").status, 200)

    # ----- reload -----

    def serial(self, server):
        return self.tls_conn(server).sock.getpeercert()["serialNumber"]

    def test_sighup_reloads_the_certificate_and_open_connections_keep_working(self):
        for name in ("one.pem", "one.key"):
            shutil.copy(self.path(name), self.path("live-" + name))
        server = self.start(cert="live-one.pem", key="live-one.key")
        self.assertEqual(self.serial(server), "1001")
        open_conn = self.tls_conn(server)
        self.assertEqual(open_conn.request("POST", "/r", body=b"x").status, 200)

        shutil.copy(self.path("two.pem"), self.path("live-one.pem"))
        shutil.copy(self.path("two.key"), self.path("live-one.key"))
        mark = server.line_count()
        server.send_signal(signal.SIGHUP)
        server.wait_line(re.compile("reloaded the TLS certificate"), since=mark)
        self.assertEqual(self.serial(server), "2002")
        self.assertEqual(open_conn.request("GET", "/r").body, b"x")

        # A pair that does not load is refused with one line; the loaded one stays.
        with open(self.path("live-one.pem"), "w") as broken:
            broken.write("not a certificate\n")
        mark = server.line_count()
        server.send_signal(signal.SIGHUP)
        line = server.wait_line(re.compile("TLS reload refused.*"), since=mark).group(0)
        self.assertIn("live-one.pem", line)
        self.assertEqual(self.serial(server), "2002")
        self.assertEqual(open_conn.request("GET", "/r").body, b"x")

    # ----- what a TLS port must survive -----

    def test_tls_1_1_is_refused_by_the_server(self):
        server = self.start()
        # SECLEVEL=0 lets the client offer TLS 1.1, so the refusal is the server's.
        result = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.tls_port, "-tls1_1",
             "-cipher", "DEFAULT@SECLEVEL=0"],
            input=b"", capture_output=True, timeout=TOOL_TIMEOUT_S, check=False)
        output = (result.stdout + result.stderr).decode("utf-8", "replace")
        self.assertNotEqual(result.returncode, 0, output)
        self.assertIn("protocol version", output)
        ok = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.tls_port, "-tls1_2",
             "-CAfile", self.ca, "-verify_return_error"],
            input=b"", capture_output=True, timeout=TOOL_TIMEOUT_S, check=False)
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn(b"Protocol  : TLSv1.2", ok.stdout)

    def test_plain_http_and_truncated_handshakes_are_dropped_quietly(self):
        server = self.start()
        mark = server.line_count()
        attempts = [
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 8,  # a cut ClientHello
            b"\x16\x03\x01\x00\x05garbage",
        ]
        for data in attempts * 3:
            with socket.create_connection(("127.0.0.1", server.tls_port),
                                          timeout=SOCKET_TIMEOUT_S) as raw:
                raw.sendall(data)
                if data.startswith(b"GET"):
                    # The server answers with an alert (not HTTP) and closes.
                    received = b""
                    while True:
                        try:
                            chunk = raw.recv(4096)
                        except ConnectionResetError:
                            break
                        if not chunk:
                            break
                        received += chunk
                    self.assertFalse(received.startswith(b"HTTP/"), received)
        self.assertEqual(self.curl(server, "/")[0], 200)
        failures = [line for line in server.lines_since(mark) if "TLS handshake failed" in line]
        self.assertLessEqual(len(failures), 1, failures)

    def test_a_stalled_handshake_is_dropped_at_its_deadline_and_holds_a_connection_slot(self):
        # Loopback is a trusted proxy by default, and proxies are exempt from the per-client cap.
        server = self.start("-maxConnectionsPerIP", "1", "-trustedProxies", "")
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.tls_port),
                                      timeout=SOCKET_TIMEOUT_S) as stalled:
            stalled.sendall(b"\x16\x03\x01\x02\x00")  # a record header, then nothing
            time.sleep(0.5)
            # The stalled handshake holds this client's only slot: another connection is refused.
            with socket.create_connection(("127.0.0.1", server.port),
                                          timeout=SOCKET_TIMEOUT_S) as second:
                second.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    refused = second.recv(1024) == b""
                except ConnectionResetError:
                    refused = True
                self.assertTrue(refused)
            stalled.settimeout(15 * SLOWDOWN)
            try:
                self.assertEqual(stalled.recv(1024), b"")
            except ConnectionResetError:
                pass
            elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 9.0)
        self.assertLess(elapsed, 13.0 * SLOWDOWN)
        self.assertEqual(self.curl(server, "/")[0], 200)  # the slot was given back

    def test_shutdown_does_not_wait_for_a_handshake_in_progress(self):
        server = self.start()
        with socket.create_connection(("127.0.0.1", server.tls_port),
                                      timeout=SOCKET_TIMEOUT_S) as stalled:
            stalled.sendall(b"\x16\x03\x01\x02\x00")
            time.sleep(0.3)
            start = time.monotonic()
            server.stop()
            self.assertLess(time.monotonic() - start, 5.0 * SLOWDOWN)

    # ----- redirect mode -----

    def test_redirect_mode_answers_308_to_the_https_url(self):
        server = self.start("-redirectHTTP")
        response = server.request("POST", "/some/key?x=1", body=b"v",
                                  host="example.com:%d" % server.port)
        self.assertEqual(response.status, 308)
        self.assertEqual(response.header("Location"),
                         "https://example.com:%d/some/key?x=1" % server.tls_port)
        index = server.request("GET", "/", host="[::1]:80")
        self.assertEqual(index.header("Location"), "https://[::1]:%d/" % server.tls_port)
        no_host = server.request("GET", "/k", version="1.0", host="")
        self.assertEqual(no_host.status, 400)
        # The TLS listener itself serves.
        self.assertEqual(self.curl(server, "/")[0], 200)

    # ----- start-up errors -----

    def start_error(self, *flags):
        code, _, stderr = run_server_to_exit(["-port", "0", "-tlsPort", "0", "-db", "", *flags])
        lines = stderr.strip().splitlines()
        return code, lines

    def test_a_missing_certificate_file_stops_the_start(self):
        code, lines = self.start_error("-tlsCert", self.path("nope.pem"),
                                       "-tlsKey", self.path("one.key"))
        self.assertEqual(code, 1)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("nope.pem", lines[0])
        self.assertIn("No such file", lines[0])

    def test_a_key_that_does_not_match_stops_the_start(self):
        code, lines = self.start_error("-tlsCert", self.path("one.pem"),
                                       "-tlsKey", self.path("two.key"))
        self.assertEqual(code, 1)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("does not match", lines[0])
        self.assertIn("two.key", lines[0])

    def test_a_certificate_without_a_key_is_a_usage_error(self):
        code, lines = self.start_error("-tlsCert", self.path("one.pem"))
        self.assertEqual(code, 2)
        self.assertEqual(lines, ["-tlsCert needs -tlsKey: give the private key file too"])


if __name__ == "__main__":
    unittest.main()
