"""A data file that cannot be opened stops the start (issue 3), black-box: exit 1, one line naming
the file and the reason, the file byte-for-byte unchanged; a second server on a file in use is
refused while the first goes on serving.
"""

import os
import signal
import stat
import unittest

from persistence_case import PersistenceCase


class UnopenableFileTest(PersistenceCase):
    """Refuse clearly, touch nothing, never start empty over existing data."""

    def assert_refused_untouched(self, content, *reason_words):
        with open(self.db, "wb") as data_file:
            data_file.write(content)
        os.chmod(self.db, 0o644)
        line = self.refused(self.db)
        for word in reason_words:
            self.assertIn(word, line)
        with open(self.db, "rb") as data_file:
            self.assertEqual(data_file.read(), content, "the refused file was changed")
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o644)
        return line

    def test_a_corrupt_file_is_refused_and_left_unchanged(self):
        line = self.assert_refused_untouched(os.urandom(16384), "not an LMDB data file")
        print("\n  corrupt: %s" % line, flush=True)

    def test_the_original_servers_json_store_is_refused_and_left_unchanged(self):
        line = self.assert_refused_untouched(b'{"k":{"Value":"v"}}\n', "JSON")
        print("\n  JSON: %s" % line, flush=True)

    def test_a_truncated_file_is_refused_and_opens_again_once_restored(self):
        server = self.start()
        with server.connect() as conn:
            for number in range(300):
                self.assert_posted(conn, "key-%d" % number, b"x" * 900)
        self.stop(server, signal.SIGTERM)
        with open(self.db, "rb") as data_file:
            whole = data_file.read()
        line = self.assert_refused_untouched(whole[:len(whole) // 2], "truncated")
        print("\n  truncated: %s" % line, flush=True)
        with open(self.db, "wb") as data_file:
            data_file.write(whole)
        server = self.start()
        with server.connect() as conn:
            self.assert_stored(conn, "key-299", b"x" * 900)
        self.stop(server, signal.SIGTERM)

    def test_a_second_server_on_a_file_in_use_is_refused_and_the_first_serves_on(self):
        first = self.start()
        with first.connect() as conn:
            self.assert_posted(conn, b"before", b"1")
            line = self.refused(self.db)
            self.assertIn("in use", line)
            print("\n  second server: %s" % line, flush=True)
            self.assert_stored(conn, b"before", b"1")
            self.assert_posted(conn, b"after", b"2")
        self.stop(first, signal.SIGTERM)
        server = self.start()
        with server.connect() as conn:
            self.assert_stored(conn, b"before", b"1")
            self.assert_stored(conn, b"after", b"2")
        self.stop(server, signal.SIGTERM)

    def test_an_unreadable_file_is_refused(self):
        if os.geteuid() == 0:
            self.skipTest("running as root: chmod 000 does not stop root from opening the file")
        server = self.start()
        self.stop(server, signal.SIGTERM)
        with open(self.db, "rb") as data_file:
            content = data_file.read()
        os.chmod(self.db, 0)
        try:
            line = self.refused(self.db)
            self.assertIn("Permission denied", line)
            print("\n  unreadable: %s" % line, flush=True)
        finally:
            os.chmod(self.db, 0o600)
        with open(self.db, "rb") as data_file:
            self.assertEqual(data_file.read(), content)


if __name__ == "__main__":
    unittest.main()
