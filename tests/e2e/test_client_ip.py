"""Who the client is: the TCP peer, or X-Forwarded-For read right to left through trusted proxies.

The original server took the left-most parseable entry from any loopback or private peer and
refused IPv6; ours walks right to left skipping trusted proxies (default: loopback only), stops at
a malformed entry (the last trusted hop is then the client), serves IPv6 and treats IPv4-mapped
IPv6 as IPv4. The reply to POST /ip/<name> and the stored key show the client address.
"""

import socket
import unittest

from harness import NO_RATE_LIMIT, PerTestServerCase, ServerTestCase


# A chain of proxies on private networks in front of a local one, as an operator would list it.
LAN_PROXIES = "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1,fc00::/7"


class ForwardedForTest(ServerTestCase):
    """-trustedProxies LAN_PROXIES; every request arrives from 127.0.0.1 (a trusted proxy)."""

    SERVER_FLAGS = (*NO_RATE_LIMIT, "-trustedProxies", LAN_PROXIES)

    def client_for(self, *xff_lines, extra_headers=()):
        """POSTs /ip/<unique> with the given X-Forwarded-For lines; returns the reply text after
        checking that the value is stored under ip/<reply>/<name>."""
        self._n = getattr(self, "_n", 0) + 1
        name = "%s-%d" % (self.key(), self._n)
        headers = [("X-Forwarded-For", line) for line in xff_lines] + list(extra_headers)
        response = self.conn.request("POST", "/ip/" + name, b"info", headers)
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.header("Content-Type"), "text/plain; charset=utf-8")
        client = response.text
        stored = self.conn.request("GET", "/ip/%s/%s" % (client, name))
        self.assert_value(stored, b"info")
        return client

    def test_without_x_forwarded_for_the_client_is_the_peer(self):
        self.assertEqual(self.client_for(), "127.0.0.1")

    def test_a_public_address_forwarded_by_loopback_is_the_client(self):
        self.assertEqual(self.client_for("1.2.3.4"), "1.2.3.4")

    def test_the_walk_goes_right_to_left_so_the_right_most_untrusted_entry_wins(self):
        # The original answered 5.6.7.8 (left-most parseable): a client could pick its address.
        self.assertEqual(self.client_for("garbage, 5.6.7.8, 9.9.9.9"), "9.9.9.9")
        self.assertEqual(self.client_for("5.6.7.8, 1.2.3.4"), "1.2.3.4")

    def test_trusted_entries_on_the_right_are_skipped(self):
        self.assertEqual(self.client_for("1.2.3.4, 10.0.0.1"), "1.2.3.4")
        self.assertEqual(self.client_for("1.2.3.4, 192.168.1.1, 172.16.0.5, 127.0.0.2"),
                         "1.2.3.4")
        self.assertEqual(self.client_for("8.8.8.8,1.2.3.4,10.1.1.1"), "1.2.3.4")

    def test_whitespace_around_entries_is_ignored(self):
        self.assertEqual(self.client_for("   1.2.3.4  "), "1.2.3.4")
        self.assertEqual(self.client_for("5.6.7.8 ,\t1.2.3.4 "), "1.2.3.4")

    def test_when_every_entry_is_trusted_the_last_skipped_entry_is_the_client(self):
        self.assertEqual(self.client_for("   10.0.0.1  "), "10.0.0.1")
        self.assertEqual(self.client_for("192.168.0.7, 10.0.0.1"), "192.168.0.7")

    def test_an_ipv6_client_is_served_with_its_canonical_text(self):
        # The original answered 400 "Only IPv4 is supported".
        self.assertEqual(self.client_for("2001:db8::1"), "2001:db8::1")
        self.assertEqual(self.client_for("2001:DB8:0:0:0:0:0:1"), "2001:db8::1")
        self.assertEqual(self.client_for("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1")

    def test_the_ipv6_key_can_be_read_back_by_its_canonical_name(self):
        headers = [("X-Forwarded-For", "2001:db8::1")]
        response = self.conn.request("POST", "/ip/v6svc", b"six", headers)
        self.assert_ok(response, "2001:db8::1")
        self.assert_value(self.conn.request("GET", "/ip/2001:db8::1/v6svc"), b"six")

    def test_ipv4_mapped_ipv6_is_the_ipv4_address(self):
        # The original used the literal text, a second namespace for the same client.
        self.assertEqual(self.client_for("::ffff:1.2.3.4"), "1.2.3.4")
        self.assertEqual(self.client_for("::FFFF:5.6.7.8"), "5.6.7.8")

    def test_a_malformed_entry_stops_the_walk_at_the_last_trusted_hop(self):
        for entry in ("unknown", "1.2.3.4:5555", "001.2.3.4", "[2001:db8::1]", "1.2.3", ""):
            with self.subTest(entry=entry):
                self.assertEqual(self.client_for(entry) if entry else self.client_for(" "),
                                 "127.0.0.1")
        self.assertEqual(self.client_for("1.2.3.4, garbage"), "127.0.0.1")
        self.assertEqual(self.client_for("1.2.3.4, garbage, 10.0.0.1"), "10.0.0.1")

    def test_x_real_ip_and_forwarded_are_ignored(self):
        self.assertEqual(self.client_for(extra_headers=[("X-Real-IP", "7.7.7.7")]), "127.0.0.1")
        self.assertEqual(self.client_for(extra_headers=[("Forwarded", "for=8.8.8.8")]),
                         "127.0.0.1")

    def test_all_x_forwarded_for_lines_are_joined_in_order(self):
        # The original used only the first line (11.11.11.11).
        self.assertEqual(self.client_for("11.11.11.11", "12.12.12.12"), "12.12.12.12")
        self.assertEqual(self.client_for("11.11.11.11", "10.0.0.1"), "11.11.11.11")

    def test_the_header_name_is_case_insensitive(self):
        self.assertEqual(self.client_for(extra_headers=[("x-forwarded-for", "1.2.3.4")]),
                         "1.2.3.4")


class DefaultTrustTest(ServerTestCase):
    """Default -trustedProxies: loopback only."""

    def reply(self, xff):
        response = self.conn.request("POST", "/ip/" + self.key(), b"v", [("X-Forwarded-For", xff)])
        self.assertEqual(response.status, 200, response)
        return response.text

    def test_a_proxy_on_loopback_is_trusted_by_default(self):
        self.assertEqual(self.reply("203.0.113.7"), "203.0.113.7")
        self.assertEqual(self.reply("203.0.113.7, 127.0.0.2"), "203.0.113.7")

    def test_private_ranges_are_not_trusted_by_default(self):
        # A forwarded private address is the client: it is not skipped as a proxy, so the entry
        # left of it, which that peer could have written itself, does not count.
        self.assertEqual(self.reply("203.0.113.7, 10.0.0.1"), "10.0.0.1")
        self.assertEqual(self.reply("203.0.113.7, 192.168.1.20"), "192.168.1.20")
        self.assertEqual(self.reply("203.0.113.7, fd00::1"), "fd00::1")

    def test_the_start_up_log_names_the_trusted_set(self):
        self.assertIn("X-Forwarded-For is believed only from the trusted proxies "
                      "127.0.0.0/8,::1/128 (-trustedProxies)", self.server.output())


class UntrustedPeerTest(PerTestServerCase):
    """-trustedProxies decides whose X-Forwarded-For counts."""

    def reply(self, xff):
        response = self.conn.request("POST", "/ip/svc", b"v", [("X-Forwarded-For", xff)])
        self.assertEqual(response.status, 200, response)
        return response.text

    def test_x_forwarded_for_is_ignored_when_no_proxy_is_trusted(self):
        server = self.start(*NO_RATE_LIMIT, "-trustedProxies", "")
        self.assertEqual(self.reply("1.2.3.4"), "127.0.0.1")
        self.assertIn("X-Forwarded-For is ignored: no trusted proxies", server.output())

    def test_x_forwarded_for_is_ignored_from_a_peer_outside_the_trusted_list(self):
        self.start(*NO_RATE_LIMIT, "-trustedProxies", "10.0.0.0/8")
        self.assertEqual(self.reply("1.2.3.4"), "127.0.0.1")

    def test_only_the_listed_proxies_are_skipped(self):
        self.start(*NO_RATE_LIMIT, "-trustedProxies", "127.0.0.1/32")
        # 10.0.0.1 is no longer trusted, so it is the client.
        self.assertEqual(self.reply("1.2.3.4, 10.0.0.1"), "10.0.0.1")
        self.assertEqual(self.reply("1.2.3.4, 127.0.0.1"), "1.2.3.4")

    def test_a_trusted_proxy_list_with_spaces_and_bare_addresses_is_accepted(self):
        self.start(*NO_RATE_LIMIT, "-trustedProxies", "127.0.0.1, 10.0.0.0/8")
        self.assertEqual(self.reply("1.2.3.4, 10.0.0.1"), "1.2.3.4")


def ipv6_loopback_available():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(ipv6_loopback_available(), "no IPv6 loopback on this machine")
class Ipv6ListenerTest(PerTestServerCase):
    """-l ::1: an IPv6-only listener; the client is ::1."""

    def test_a_server_listening_on_ipv6_loopback_serves_ipv6_clients(self):
        server = self.start(*NO_RATE_LIMIT, listen="::1")
        self.assertEqual(server.host, "::1")
        self.assert_ok(self.conn.request("POST", "/ip/v6svc", b"over-v6"), "::1")
        self.assert_value(self.conn.request("GET", "/ip/::1/v6svc"), b"over-v6")
        self.assert_ok(self.conn.request("POST", "/plain", b"p"))
        self.assert_value(self.conn.request("GET", "/plain"), b"p")

    def test_ipv6_loopback_is_a_trusted_proxy_by_default(self):
        self.start(*NO_RATE_LIMIT, listen="::1")
        response = self.conn.request("POST", "/ip/fwd", b"v", [("X-Forwarded-For", "1.2.3.4")])
        self.assert_ok(response, "1.2.3.4")

    def test_a_server_listening_on_ipv6_loopback_does_not_accept_ipv4(self):
        server = self.start(*NO_RATE_LIMIT, listen="::1")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            with self.assertRaises(OSError):
                sock.connect(("127.0.0.1", server.port))


if __name__ == "__main__":
    unittest.main()
