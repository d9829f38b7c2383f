"""A port that is already served is a start-up error, not a share of someone else's traffic.

The server's own I/O threads share their port with SO_REUSEPORT, which would also let a second
server process join it and take a share of new connections. A second rendezvous-server started on
a port the first one serves must exit 1 with one line naming the address, and every client must
still reach the first server.
"""

import unittest

from harness import NO_RATE_LIMIT, Server, run_server_to_exit

FRESH_CONNECTIONS = 10


class PortInUseTest(unittest.TestCase):

    def check_second_server_refused(self, first_listen, second_listen):
        with Server("-threads", "2", *NO_RATE_LIMIT, listen=first_listen) as first:
            marker = first.request("POST", "/who", b"first")
            self.assertEqual(marker.status, 200, marker)

            code, stdout, stderr = run_server_to_exit(
                ["-l", second_listen, "-port", str(first.port), "-db", "", "-threads", "2",
                 "-disableLocalIPWaring"])
            self.assertEqual(code, 1, stderr)
            self.assertEqual(stdout, "")
            lines = stderr.splitlines()
            self.assertEqual(len(lines), 1, stderr)
            self.assertIn("ERROR cannot listen on %s:%d: " % (second_listen, first.port),
                          lines[0])
            self.assertIn("already in use", lines[0])

            # Every fresh connection reaches the first server, which has the key; a second
            # server that had joined the port would answer 404 for some of them.
            for _ in range(FRESH_CONNECTIONS):
                response = first.request("GET", "/who")
                self.assertEqual(response.status, 200, response)
                self.assertEqual(response.body, b"first", response)

    def test_a_second_server_on_the_same_address_and_port_exits_1(self):
        self.check_second_server_refused("127.0.0.1", "127.0.0.1")

    def test_a_second_server_on_the_wildcard_of_a_served_port_exits_1(self):
        self.check_second_server_refused("127.0.0.1", "0.0.0.0")

    def test_port_0_gives_each_server_its_own_port(self):
        with Server("-threads", "2") as first, Server("-threads", "2") as second:
            self.assertNotEqual(first.port, second.port)
            self.assertEqual(first.request("POST", "/k", b"1").status, 200)
            self.assertEqual(second.request("GET", "/k").status, 404)


if __name__ == "__main__":
    unittest.main()
