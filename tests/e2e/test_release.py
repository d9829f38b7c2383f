"""The release binary (`make release`, a tree configured with -DRDV_STATIC=ON): one file that needs
nothing but glibc.

ldd may list only glibc's own objects (libc, libm, the loader, the vDSO, and the empty libpthread /
libdl / librt stubs older glibc versions had), and the binary must serve: -version, then a
request answered on a free port. Registered by the release tree (RDV_STATIC=ON in the environment);
run it by hand on any binary with RDV_STATIC=ON RDV_SERVER=<binary>.
"""

import os
import re
import subprocess
import unittest

from harness import SERVER_BINARY, ServerTestCase, run_server_to_exit

GLIBC_OBJECTS = re.compile(r"^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|/lib64/ld-linux-x86-64\.so\.2|"
                           r"libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1)$")


@unittest.skipUnless(os.environ.get("RDV_STATIC") == "ON", "not a release binary (RDV_STATIC=ON)")
class ReleaseBinaryTest(ServerTestCase):

    def test_ldd_lists_nothing_but_glibc(self):
        out = subprocess.run(["ldd", SERVER_BINARY], capture_output=True, text=True, timeout=30,
                             check=True).stdout
        libraries = [line.split()[0] for line in out.splitlines() if line.strip()]
        self.assertIn("libc.so.6", libraries)
        others = [name for name in libraries if not GLIBC_OBJECTS.match(name)]
        self.assertEqual(others, [], out)

    def test_version_runs(self):
        code, out, err = run_server_to_exit(["-version"])
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^rendezvous-server \d+\.\d+\.\d+")

    def test_it_stores_and_answers(self):
        key = "/" + self.key()
        self.assert_ok(self.conn.request("POST", key, b"static"))
        self.assert_value(self.conn.request("GET", key), b"static")


if __name__ == "__main__":
    unittest.main()
