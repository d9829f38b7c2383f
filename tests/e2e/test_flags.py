"""The command line: the original's ten flags in Go flag syntax, plus ours; clear refusals.

Ours (issue 2 "Flags"): -h/--help list every flag and exit 0; an unknown flag, a bad value or an
impossible setting (e.g. -maxRequests 2, where a POST could never pass; zero or negative
durations and sizes) prints one clear line and exits 2. The original wrapped -maxRequests to 8
bits and accepted zero durations.
"""

import re
import time
import unittest

from harness import (BASE_FLAGS, NO_RATE_LIMIT, SLOWDOWN, PerTestServerCase, Server,
                     run_server_to_exit, sanitizer_reports)

ORIGINAL_FLAGS = ("disableLocalIPWaring", "expireDuration", "l", "maxKeySize", "maxNumKV",
              "maxRequests", "maxValueSize", "port", "resetDuration", "saveDuration")
NEW_FLAGS = ("trustedProxies", "threads", "db")
# Safe flags so that a wrongly accepted command line starts a harmless, short-lived server.
SAFE = ("-l", "127.0.0.1", "-port", "0", "-db", "")


def lines_of(*texts):
    return [line for text in texts for line in text.splitlines() if line.strip()]


class HelpTest(unittest.TestCase):

    def test_help_lists_every_original_flag_and_the_new_ones_and_exits_0(self):
        for option in ("-h", "--help", "-help"):
            with self.subTest(option=option):
                code, out, err = run_server_to_exit([option])
                self.assertEqual(code, 0, out + err)
                text = out + err
                for flag in ORIGINAL_FLAGS + NEW_FLAGS:
                    self.assertRegex(text, r"(?m)^\s*--?%s\b" % re.escape(flag),
                                     "flag -%s missing from the usage" % flag)
                self.assertEqual(sanitizer_reports(text), [])

    def test_help_shows_the_original_defaults_in_go_form(self):
        _, out, err = run_server_to_exit(["-h"])
        for default in ("2h0m0s", "1m0s", "30m0s", "0.0.0.0", "100000", "1000"):
            self.assertIn(default, out + err)


class RefusedCommandLineTest(unittest.TestCase):
    """Each bad command line exits 2 with one clear line that names the culprit (a second line
    with a hint such as "Run '... -h' to list the flags." is tolerated; a usage dump is not)."""

    def assert_short_message(self, out, err, culprit=None):
        lines = lines_of(out, err)
        self.assertIn(len(lines), (1, 2), "expected one clear line, got %r" % lines)
        if culprit:
            self.assertIn(culprit, lines[0])
        self.assertEqual(sanitizer_reports(out + err), [])

    CASES = [
        (["-nosuch", "1"], "nosuch"),
        (["--nosuch=1"], "nosuch"),
        (["-expireDuration", "3"], "expireDuration"),  # a bare number is not a duration
        (["-expireDuration", "1d"], "expireDuration"),
        (["-expireDuration", "0s"], "expireDuration"),
        (["-expireDuration", "-1s"], "expireDuration"),
        (["-resetDuration", "0s"], "resetDuration"),
        (["-saveDuration", "abc"], "saveDuration"),
        (["-maxRequests", "2"], "maxRequests"),  # a POST costs 3: it could never pass
        (["-maxRequests", "0"], "maxRequests"),
        (["-maxRequests", "x"], "maxRequests"),
        (["-maxKeySize", "abc"], "maxKeySize"),
        (["-maxKeySize", "0"], "maxKeySize"),
        (["-maxValueSize", "-1"], "maxValueSize"),
        (["-maxNumKV", "0"], "maxNumKV"),
        (["-trustedProxies", "10.0.0.0/33"], "trustedProxies"),
        (["-trustedProxies", "not-a-network"], "trustedProxies"),
        (["-threads", "-1"], "threads"),
    ]

    def test_bad_flags_and_values_exit_2_with_one_clear_line(self):
        for args, culprit in self.CASES:
            with self.subTest(args=args):
                # The bad flag last, so that it is the one that matters.
                code, out, err = run_server_to_exit(list(SAFE) + args, timeout=5.0)
                self.assertEqual(code, 2, "exit %s; output: %r" % (code, out + err))
                self.assert_short_message(out, err, culprit)

    def test_a_flag_without_its_value_exits_2(self):
        code, out, err = run_server_to_exit(list(SAFE) + ["-maxKeySize"], timeout=5.0)
        self.assertEqual(code, 2, out + err)
        self.assert_short_message(out, err, "maxKeySize")

    def test_a_bad_listen_address_or_port_is_refused(self):
        for args, culprit in ((["-port", "0", "-l", "not-an-address"], "-l"),
                              (["-l", "127.0.0.1", "-port", "abc"], "-port"),
                              (["-l", "127.0.0.1", "-port", "70000"], "-port")):
            with self.subTest(args=args):
                code, out, err = run_server_to_exit(["-db", ""] + args, timeout=5.0)
                self.assertEqual(code, 2, out + err)
                self.assert_short_message(out, err, culprit)

    def test_a_positional_argument_is_refused(self):
        # Go would silently turn the flag on and stop parsing; ours refuses (see app/flags.h).
        code, out, err = run_server_to_exit(list(SAFE) + ["-disableLocalIPWaring", "false"],
                                            timeout=5.0)
        self.assertEqual(code, 2, out + err)
        self.assert_short_message(out, err, "false")


class AcceptedSyntaxTest(PerTestServerCase):
    """Go flag syntax and Go durations start a working server."""

    def test_every_go_flag_syntax_sets_max_key_size(self):
        for form in (["--maxKeySize=10"], ["-maxKeySize=10"], ["-maxKeySize", "10"],
                     ["--maxKeySize", "10"]):
            with self.subTest(form=form):
                with Server(*NO_RATE_LIMIT, *form) as server, server.connect() as conn:
                    self.assert_error(conn.request("GET", "/" + "k" * 11), 400, "Key too long")
                    self.assert_not_found(conn.request("GET", "/" + "k" * 10))

    def test_go_durations_are_accepted(self):
        for duration in ("1h30m", "1.5h", "90s", "500ms", "2h45m10.5s"):
            with self.subTest(duration=duration):
                with Server(*NO_RATE_LIMIT, "-expireDuration", duration,
                            "-resetDuration", duration, "-saveDuration", duration) as server:
                    self.assertEqual(server.request("GET", "/").status, 200)

    def test_the_smallest_useful_max_requests_and_one_thread_work(self):
        self.start("-maxRequests", "3", "-threads", "1")
        self.assert_ok(self.conn.request("POST", "/three", b"v"))
        self.assertEqual(self.conn.request("GET", "/three").status, 429)


class LocalhostWarningTest(PerTestServerCase):
    """Ours: the warning about requests from localhost is one line at most once a minute
    (the original printed a multi-line block per request) and off with -disableLocalIPWaring."""

    NO_WARNING_FLAG = tuple(f for f in BASE_FLAGS if f != "-disableLocalIPWaring")

    def warnings_after_requests(self, server, count, headers=()):
        before = server.line_count()
        with server.connect() as conn:
            for _ in range(count):
                self.assertEqual(conn.request("GET", "/warn", headers=[
                    ("User-Agent", "agent\"with'quotes"), ("Referer", "http://r/"),
                    *headers]).status, 404)
        time.sleep(0.3 * SLOWDOWN)  # let the log line through the pipe
        return [line for line in server.lines_since(before) if "localhost" in line.lower()]

    def test_the_warning_is_one_line_at_most_once_a_minute(self):
        server = self.start(*NO_RATE_LIMIT, "-disableLocalIPWaring=false",
                            base_flags=self.NO_WARNING_FLAG)
        warnings = self.warnings_after_requests(server, 3)
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("request from localhost without X-Forwarded-For", warnings[0])
        self.assertEqual(self.warnings_after_requests(server, 2), [])

    def test_an_ignored_x_forwarded_for_is_named_not_called_missing(self):
        # Loopback is not a trusted proxy here, so the header is sent but not believed.
        server = self.start(*NO_RATE_LIMIT, "-disableLocalIPWaring=false", "-trustedProxies", "",
                            base_flags=self.NO_WARNING_FLAG)
        warnings = self.warnings_after_requests(server, 1, [("X-Forwarded-For", "203.0.113.7")])
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("request from localhost with an X-Forwarded-For that was not used (the peer "
                      "is not in -trustedProxies, or the right-most entry is not an IP address): "
                      "\"203.0.113.7\"", warnings[0])
        self.assertNotIn("without X-Forwarded-For", warnings[0])

    def test_the_bare_flag_turns_the_warning_off(self):
        server = self.start(*NO_RATE_LIMIT)  # BASE_FLAGS has the bare -disableLocalIPWaring
        self.assertEqual(self.warnings_after_requests(server, 3), [])


if __name__ == "__main__":
    unittest.main()
