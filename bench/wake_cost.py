#!/usr/bin/env python3
"""Server CPU per wake-up of a long poll, against a plain GET sent by the same client.

Usage: python3 bench/wake_cost.py [--seconds S] [--waiters K] -- SERVER COMMAND...
SERVER COMMAND is the whole command line of rendezvous-server (run.sh passes taskset, the binary
and its flags; it must print its "listening on" line). The script starts it, then one key
/bench/wake with a 100-byte value, then two phases of S seconds each, on K keep-alive connections:

Each connection sends its requests from its own address (X-Forwarded-For; at most 32 waits per
client).

- get: each connection keeps one plain GET of the key in flight (send, read the answer, send
  again): the reference, at the same concurrency and with the same client as the wake-ups.
- wake: each connection parks a GET with `Prefer: wait=60` and `If-None-Match: <current ETag>`;
  a writer on its own connection POSTs a new value, which wakes the K waiters; each answers 200
  with the new ETag and its connection parks again at once with that ETag. When all K answers of
  a write have come and their K new waits are sent, the writer pauses 2 ms (the client cannot see
  when the server has parked them: a wait that arrives after the next write answers at once, at
  about the cost of a wake-up), then writes again.

CPU = utime + stime of the server from /proc/PID/stat over the phase. CPU per wake-up = the
phase's CPU / the answers to waiting GETs, so it includes the re-park of each waiter (the
request that parks again) and 1/K of a POST. Prints BENCH_WAKE lines and a Markdown table. Stops
the server it started by PID.
"""
import argparse
import os
import re
import selectors
import socket
import subprocess
import sys
import time

KEY = "/bench/wake"
VALUE_BYTES = 100


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Conn:
    """One keep-alive connection that reads answers (status, headers, body) from its buffer."""

    def __init__(self, port, client):
        self.client = client  # the X-Forwarded-For of its requests (loopback is a trusted proxy)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def answers(self):
        """Reads what is there and returns the complete answers as (status, headers, body)."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed a connection")
        self.buffer += chunk
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            status = int(head[0].split()[1])
            length = int(headers.get("content-length", "0")) if status not in (204, 304) else 0
            if len(self.buffer) < end + 4 + length:
                break
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            out.append((status, headers, body))
        return out

    def request(self, data):
        """Sends `data` and waits for one answer."""
        self.send(data)
        while True:
            got = self.answers()
            if got:
                return got[0]


def get_request(client, etag=None):
    lines = ["GET %s HTTP/1.1" % KEY, "Host: b", "X-Forwarded-For: " + client]
    if etag is not None:
        lines += ["Prefer: wait=60", "If-None-Match: " + etag]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post_request(n):
    value = (b"%d:" % n).ljust(VALUE_BYTES, b"v")
    return b"POST %s HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n%s" % (
        KEY.encode(), len(value), value)


def phase_get(conns, seconds, pid):
    selector = selectors.DefaultSelector()
    for c in conns:
        selector.register(c.sock, selectors.EVENT_READ, c)
    answered = 0
    before, started = cpu_seconds(pid), time.monotonic()
    for c in conns:
        c.send(get_request(c.client))
    while time.monotonic() - started < seconds:
        for key, _ in selector.select(timeout=1.0):
            c = key.data
            for status, _, _ in c.answers():
                if status != 200:
                    raise SystemExit("GET answered %d" % status)
                answered += 1
                c.send(get_request(c.client))
    # The last GETs still in flight: read them, not counted (their CPU is at most K requests').
    pending = len(conns)
    while pending:
        for key, _ in selector.select(timeout=5.0):
            pending -= len(key.data.answers())
    cpu = cpu_seconds(pid) - before
    selector.close()
    return answered, cpu, time.monotonic() - started


def phase_wake(conns, writer, seconds, pid):
    status, headers, _ = writer.request(post_request(0))
    if status != 200:
        raise SystemExit("POST answered %d" % status)
    etag = headers["etag"]
    for c in conns:
        c.send(get_request(c.client, etag))
    time.sleep(0.5)  # every waiter parked before the measurement starts
    selector = selectors.DefaultSelector()
    for c in conns:
        selector.register(c.sock, selectors.EVENT_READ, c)
    woken = writes = 0
    before, started = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - started < seconds:
        writes += 1
        status, headers, _ = writer.request(post_request(writes))
        if status != 200:
            raise SystemExit("POST answered %d" % status)
        etag = headers["etag"]
        waiting = len(conns)
        while waiting:
            events = selector.select(timeout=5.0)
            if not events:
                raise SystemExit("a write woke %d of %d waiters within 5 s"
                                 % (len(conns) - waiting, len(conns)))
            for key, _ in events:
                c = key.data
                for status, headers, _ in c.answers():
                    if status != 200 or headers.get("etag") != etag:
                        raise SystemExit("a waiter answered %d %r, not 200 %s"
                                         % (status, headers.get("etag"), etag))
                    woken += 1
                    waiting -= 1
                    c.send(get_request(c.client, etag))
        time.sleep(0.002)
    cpu = cpu_seconds(pid) - before
    selector.close()
    return woken, writes, cpu, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--waiters", type=int, default=64)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    server = subprocess.Popen(args.command, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in server.stderr:
            match = re.search(r"listening on [^ ]*:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        if port is None:
            raise SystemExit("the server did not start")
        writer = Conn(port, "198.18.255.1")
        status, _, _ = writer.request(post_request(0))
        if status != 200:
            raise SystemExit("POST answered %d" % status)
        # One address per connection: at most 32 waits per client.
        conns = [Conn(port, "198.18.%d.%d" % (i // 250, i % 250 + 1)) for i in range(args.waiters)]
        phase_get(conns, 0.5, server.pid)  # warm-up
        gets, get_cpu, get_wall = phase_get(conns, args.seconds, server.pid)
        woken, writes, wake_cpu, wake_wall = phase_wake(conns, writer, args.seconds, server.pid)
        get_us = get_cpu / max(gets, 1) * 1e6
        wake_us = wake_cpu / max(woken, 1) * 1e6
        print("BENCH_WAKE phase=get connections=%d answers=%d cpu_s=%.3f wall_s=%.3f us=%.2f"
              % (args.waiters, gets, get_cpu, get_wall, get_us))
        print("BENCH_WAKE phase=wake connections=%d writes=%d wakeups=%d cpu_s=%.3f wall_s=%.3f"
              " us=%.2f" % (args.waiters, writes, woken, wake_cpu, wake_wall, wake_us))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
