"""Running as a service: -version, systemd readiness (sd_notify) and the unit file.

-version prints "rendezvous-server <version>" (git describe at build time) and exits 0; the
"listening on" line names the same version. Under systemd (Type=notify) the server sends READY=1
to $NOTIFY_SOCKET once its port answers, and STOPPING=1 when a signal starts the shutdown.
packaging/rendezvous.service must pass `systemd-analyze verify` without a single warning.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import (BASE_FLAGS, REPO_ROOT, SERVER_BINARY, SLOWDOWN, Conn, Server,
                     run_server_to_exit, sanitizer_reports)

VERSION_RE = re.compile(r"^rendezvous-server (\d+\.\d+\.\d+(?:-\d+-g[0-9a-f]+)?(?:-dirty)?)\n$")
UNIT_FILE = os.path.join(REPO_ROOT, "packaging", "rendezvous.service")


class VersionTest(unittest.TestCase):

    def test_version_prints_one_line_on_stdout_and_exits_0(self):
        for option in ("-version", "--version"):
            with self.subTest(option=option):
                code, out, err = run_server_to_exit([option])
                self.assertEqual(code, 0, out + err)
                self.assertRegex(out, VERSION_RE)
                self.assertEqual(sanitizer_reports(err), [])

    def test_the_listening_line_names_the_same_version(self):
        _, out, _ = run_server_to_exit(["-version"])
        version = VERSION_RE.match(out).group(1)
        with Server() as server:
            listening = [line for line in server.output().splitlines() if "listening on" in line]
        self.assertEqual(len(listening), 1, server.output())
        self.assertIn("rendezvous-server %s," % version, listening[0])


class SystemdNotifyTest(unittest.TestCase):
    """The server talks to a datagram socket standing in for systemd."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rdv-notify-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.systemd.close)
        self.systemd.settimeout(10 * SLOWDOWN)

    def start_server(self, socket_name):
        env = dict(os.environ, NOTIFY_SOCKET=socket_name)
        proc = subprocess.Popen([SERVER_BINARY, "-l", "127.0.0.1", *BASE_FLAGS],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            proc.stderr.close()
        self.addCleanup(stop)
        return proc

    def assert_ready_then_stopping(self, proc):
        ready = self.systemd.recv(4096).decode()
        lines = ready.split("\n")
        self.assertEqual(lines[0], "READY=1", ready)
        # The port comes from the notification itself: READY=1 must mean the port answers now.
        status = re.fullmatch(r"STATUS=listening on 127\.0\.0\.1:(\d+)", lines[1])
        self.assertIsNotNone(status, ready)
        port = int(status.group(1))
        with Conn("127.0.0.1", port, socket.AF_INET, "127.0.0.1:%d" % port, 5 * SLOWDOWN) as conn:
            self.assertEqual(conn.request("GET", "/").status, 200)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.systemd.recv(4096), b"STOPPING=1")
        self.assertEqual(proc.wait(10 * SLOWDOWN), 0)

    def test_ready_is_sent_once_the_port_answers_and_stopping_at_sigterm(self):
        path = os.path.join(self.dir, "notify")
        self.systemd.bind(path)
        self.assert_ready_then_stopping(self.start_server(path))

    def test_an_abstract_socket_name_starts_with_an_at_sign(self):
        name = "rdv-notify-test-%d" % os.getpid()
        self.systemd.bind("\0" + name)
        self.assert_ready_then_stopping(self.start_server("@" + name))

    def test_a_notify_socket_that_cannot_be_reached_is_logged_and_the_server_still_serves(self):
        for name, reason in (("relative-name", "malformed"),
                             (os.path.join(self.dir, "nobody-listens"), "unreachable")):
            with self.subTest(name=name):
                saved = os.environ.get("NOTIFY_SOCKET")
                os.environ["NOTIFY_SOCKET"] = name
                try:
                    server = Server().start()
                finally:
                    if saved is None:
                        del os.environ["NOTIFY_SOCKET"]
                    else:
                        os.environ["NOTIFY_SOCKET"] = saved
                try:
                    self.assertEqual(server.request("GET", "/").status, 200)
                finally:
                    server.stop()
                self.assertIn("NOTIFY_SOCKET is " + reason, server.output())


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed "
                     "(apt-get install systemd)")
class UnitFileTest(unittest.TestCase):

    def test_the_unit_passes_systemd_analyze_verify_without_warnings(self):
        # verify checks that ExecStart's binary exists, so a copy of the unit points at the
        # binary under test; everything else is the file as shipped.
        with open(UNIT_FILE) as unit:
            text = unit.read()
        self.assertIn("ExecStart=/usr/bin/rendezvous-server ", text)
        with tempfile.TemporaryDirectory(prefix="rdv-unit-") as directory:
            copy = os.path.join(directory, "rendezvous.service")
            with open(copy, "w") as unit:
                unit.write(text.replace("ExecStart=/usr/bin/rendezvous-server",
                                        "ExecStart=" + os.path.abspath(SERVER_BINARY)))
            result = subprocess.run(["systemd-analyze", "verify", "--man=no", copy],
                                    capture_output=True, text=True, timeout=60)
        # verify exits 0 even for an unknown key: any output at all is a finding.
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""))

    def test_the_unit_runs_the_server_as_the_readme_says(self):
        with open(UNIT_FILE) as unit:
            settings = dict(line.split("=", 1) for line in unit.read().splitlines()
                            if "=" in line and not line.startswith("#"))
        self.assertEqual(settings["Type"], "notify")
        self.assertEqual(settings["DynamicUser"], "yes")
        self.assertEqual(settings["StateDirectory"], "rendezvous")
        self.assertEqual(settings["AmbientCapabilities"], "CAP_NET_BIND_SERVICE")
        self.assertEqual(settings["CapabilityBoundingSet"], "CAP_NET_BIND_SERVICE")
        self.assertIn("-db /var/lib/rendezvous/store.db", settings["ExecStart"])
        self.assertIn("-port 80", settings["ExecStart"])


if __name__ == "__main__":
    unittest.main()
