"""Installing: `make install` (packaging/install.sh) and `make deb` (packaging/build-deb.sh).

Both take the binary under test (RDV_SERVER), so the checks run on what was built: the files land
under PREFIX and DESTDIR, the unit's ExecStart names the installed binary, and the Debian package
holds the binary and the unit, declares Depends for the libraries the binary links, and has a
postinst that does nothing harmful where systemd does not run.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import REPO_ROOT, SERVER_BINARY

PACKAGING = os.path.join(REPO_ROOT, "packaging")


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=True, **kwargs)


def needed_libraries(binary):
    """The NEEDED entries of the binary's dynamic section (libc.so.6, ...)."""
    out = run("readelf", "-d", binary).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)


class InstallTest(unittest.TestCase):

    def test_install_puts_the_binary_under_prefix_and_the_unit_under_unitdir_inside_destdir(self):
        with tempfile.TemporaryDirectory(prefix="rdv-install-") as destdir:
            run(os.path.join(PACKAGING, "install.sh"), SERVER_BINARY, destdir, "/opt/rdv",
                "/opt/rdv/lib/systemd/system")
            binary = os.path.join(destdir, "opt/rdv/bin/rendezvous-server")
            self.assertTrue(os.access(binary, os.X_OK))
            self.assertRegex(run(binary, "-version").stdout, r"^rendezvous-server \d+\.\d+\.\d+")
            with open(os.path.join(destdir, "opt/rdv/lib/systemd/system/rendezvous.service")) as f:
                unit = f.read()
            self.assertIn("\nExecStart=/opt/rdv/bin/rendezvous-server -port 80 ", unit)
            self.assertEqual(sorted(os.listdir(destdir)), ["opt"])


@unittest.skipUnless(shutil.which("dpkg-deb") and shutil.which("dpkg-shlibdeps"),
                     "dpkg-deb or dpkg-shlibdeps missing (apt-get install dpkg-dev)")
class DebianPackageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rdv-deb-")
        out = run(os.path.join(PACKAGING, "build-deb.sh"), SERVER_BINARY, cls.dir).stdout
        cls.deb = out.strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def field(self, name):
        return run("dpkg-deb", "-f", self.deb, name).stdout.strip()

    def test_the_package_holds_the_binary_and_the_unit(self):
        listing = run("dpkg-deb", "-c", self.deb).stdout
        files = {line.split()[-1]: line.split()[0] for line in listing.splitlines()}
        self.assertEqual(files.get("./usr/bin/rendezvous-server"), "-rwxr-xr-x")
        self.assertEqual(files.get("./lib/systemd/system/rendezvous.service"), "-rw-r--r--")
        self.assertIn("root/root", listing.splitlines()[-1])

    def test_depends_names_a_package_for_every_library_the_binary_links(self):
        depends = self.field("Depends")
        self.assertIn("libc6 (>= ", depends)
        # A library of ours linked dynamically must be declared; the release binary links none.
        expected = {"liblmdb.so.0": "liblmdb0", "libsodium.so.23": "libsodium23",
                    "libz.so.1": "zlib1g", "libstdc++.so.6": "libstdc++6"}
        for library in needed_libraries(SERVER_BINARY):
            if library in expected:
                self.assertIn(expected[library], depends)
            if library.startswith("libabsl_"):
                self.assertIn("libabsl20220623", depends)

    def test_the_version_is_the_binarys_in_debian_syntax(self):
        version = run(SERVER_BINARY, "-version").stdout.split()[1]
        self.assertRegex(self.field("Version"), r"^\d+\.\d+\.\d+(\+\d+\.g[0-9a-f]+)?(\.dirty)?$")
        self.assertEqual(self.field("Version").split("+")[0], version.split("-")[0])
        self.assertEqual(self.field("Package"), "rendezvous")

    def test_the_maintainer_scripts_do_nothing_without_systemd(self):
        with tempfile.TemporaryDirectory(prefix="rdv-deb-control-") as control:
            run("dpkg-deb", "-e", self.deb, control)
            for script in ("postinst", "prerm", "postrm"):
                path = os.path.join(control, script)
                run("sh", "-n", path)
                if not os.path.isdir("/run/systemd/system"):
                    action = {"postinst": "configure", "prerm": "remove", "postrm": "remove"}
                    # No systemctl on PATH: a script that called it would fail here.
                    result = subprocess.run(["/bin/sh", path, action[script]], capture_output=True,
                                            text=True, timeout=30, env={"PATH": "/nonexistent"})
                    self.assertEqual((result.returncode, result.stderr), (0, ""), script)


if __name__ == "__main__":
    unittest.main()
