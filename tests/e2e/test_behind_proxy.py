"""The README's nginx configuration, as written, in front of the server with TLS: the index page's
examples say https:// with the port the client used, a client's own Forwarded header changes
nothing, keys work through the proxy, and plain HTTP is redirected. Skipped without nginx or
openssl (Debian's nginx-light; the tests start their own nginx on free ports, in a temporary
directory, and stop it by PID)."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import http.client

from harness import SLOWDOWN, Server

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_nginx_config():
    with open(README, encoding="utf-8") as f:
        blocks = re.findall(r"```nginx\n(.*?)```", f.read(), re.S)
    assert len(blocks) == 1, "README has one nginx configuration"
    return blocks[0]


@unittest.skipUnless(NGINX and shutil.which("openssl"), "needs nginx and openssl")
class ReadmeNginxConfigurationTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rdv-nginx-")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=kv.example.org", "-keyout", cls.path("key.pem"),
                        "-out", cls.path("cert.pem")], check=True, capture_output=True)
        cls.server = Server().start()
        cls.https_port, cls.http_port = free_port(), free_port()
        site = readme_nginx_config()
        for old, new in [
                ("server 127.0.0.1:8080;", "server 127.0.0.1:%d;" % cls.server.port),
                ("listen [::]:80;\n", ""), ("listen [::]:443 ssl http2;\n", ""),
                ("listen 80;", "listen 127.0.0.1:%d;" % cls.http_port),
                ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % cls.https_port),
                ("/etc/letsencrypt/live/kv.example.org/fullchain.pem", cls.path("cert.pem")),
                ("/etc/letsencrypt/live/kv.example.org/privkey.pem", cls.path("key.pem"))]:
            assert old in site, old
            site = site.replace(old, new)
        temp = " ".join("%s_temp_path %s;" % (kind, cls.path(kind))
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(cls.path("nginx.conf"), "w") as f:
            f.write("%sworker_processes 1;\npid %s;\nerror_log %s;\nevents {}\n"
                    "http {\naccess_log off;\n%s\n%s}\n" % (
                        "user root;\n" if os.geteuid() == 0 else "", cls.path("nginx.pid"),
                        cls.path("error.log"), temp, site))
        cls.nginx = subprocess.Popen(
            [NGINX, "-p", cls.dir, "-c", cls.path("nginx.conf"), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10 * SLOWDOWN
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.https_port), timeout=1).close()
                break
            except OSError:
                if cls.nginx.poll() is not None or time.monotonic() > deadline:
                    cls.tearDownClass()
                    raise AssertionError("nginx did not start: %s" % cls.nginx.stderr.read())
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        if cls.nginx.poll() is None:
            os.kill(cls.nginx.pid, signal.SIGQUIT)  # graceful: finish, then exit
            try:
                cls.nginx.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(cls.nginx.pid, signal.SIGKILL)
                cls.nginx.wait()
        cls.nginx.stderr.close()
        cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def https(self, method, target, body=None, headers=None):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context,
                                           timeout=10 * SLOWDOWN)
        try:
            conn.request(method, target, body, headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def test_the_page_says_https_and_keeps_the_port(self):
        status, headers, body = self.https("GET", "/", headers={"Forwarded": "proto=http;host=evil"})
        self.assertEqual(status, 200)
        page = body.decode()
        self.assertIn("curl -d 'hello world' https://127.0.0.1:%d/my-key" % self.https_port, page)
        self.assertNotIn("http://127.0.0.1", page)
        self.assertNotIn("evil", page)
        self.assertIn("Content-Security-Policy", headers)

    def test_keys_work_through_the_proxy(self):
        status, headers, _ = self.https("PUT", "/through-nginx", b"v", {"X-TTL": "60"})
        self.assertEqual(status, 200)
        self.assertIn("ETag", headers)
        status, _, body = self.https("GET", "/through-nginx")
        self.assertEqual((status, body), (200, b"v"))

    def test_plain_http_is_redirected_to_https(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10 * SLOWDOWN)
        try:
            conn.request("GET", "/some-key", headers={"Host": "kv.example.org"})
            response = conn.getresponse()
            self.assertEqual(response.status, 308)
            self.assertEqual(response.getheader("Location"), "https://kv.example.org/some-key")
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
