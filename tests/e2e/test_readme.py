"""README.md and the binary agree: the flags table has a row for every flag -h lists, and no other."""

import os
import re
import unittest

from harness import REPO_ROOT, run_server_to_exit


class ReadmeFlagsTest(unittest.TestCase):

    def test_the_flags_table_lists_exactly_the_flags_of_help(self):
        code, out, _ = run_server_to_exit(["-h"])
        self.assertEqual(code, 0)
        in_help = set(re.findall(r"(?m)^  -(\w+)", out))
        with open(os.path.join(REPO_ROOT, "README.md")) as readme:
            text = readme.read()
        table = text[text.index("\n## Flags\n"):]
        table = table[:table.index("\n## ", 1)]
        in_readme = set(re.findall(r"(?m)^\| `-(\w+)` \|", table))
        self.assertEqual(sorted(in_help - in_readme), [], "flags missing from README.md")
        self.assertEqual(sorted(in_readme - in_help), [], "README.md rows for no flag")


if __name__ == "__main__":
    unittest.main()
