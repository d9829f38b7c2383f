#!/usr/bin/python3
"""Server CPU per request of PUT /pk/<key> (ed25519 verification + store) against a plain POST
of a value of the same size, end to end on loopback.

Usage: /usr/bin/python3 bench/pk_cost.py SERVER_BINARY [REQUESTS] [-db PATH]
Needs PyNaCl (Debian: python3-nacl) for the system interpreter. Starts the server on a free port
(one I/O thread, no rate limit), signs REQUESTS records for REQUESTS keys, sends each workload on
one keep-alive connection and reads utime + stime of the server from /proc/PID/stat before and
after: CPU per request includes parsing, routing and the store, not the client. Prints one
Markdown table. Stops the server it started by PID.
"""
import os
import re
import socket
import struct
import subprocess
import sys
import time

from nacl.signing import SigningKey

Z32 = "ybndrfg8ejkmcpqxot1uwisza345h769"


def z32(data):
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(Z32[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(sock, requests, expected):
    """Sends the requests pipelined in batches of 32 and checks every status."""
    reader = sock.makefile("rb")
    for start in range(0, len(requests), 32):
        batch = requests[start:start + 32]
        sock.sendall(b"".join(batch))
        for _ in batch:
            status = reader.readline().split()[1]
            length = 0
            while True:
                line = reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            if status != expected:
                raise SystemExit("unexpected status %r" % status)


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    extra = sys.argv[3:]
    v = os.urandom(200)
    now = time.time_ns() // 1000
    puts, posts = [], []
    for i in range(count):
        key = SigningKey(os.urandom(32))
        signature = key.sign(b"3:seqi%de1:v%d:%s" % (now, len(v), v)).signature
        record = signature + struct.pack(">Q", now) + v
        name = z32(bytes(key.verify_key))
        puts.append(b"PUT /pk/%s HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n%s"
                    % (name.encode(), len(record), record))
        posts.append(b"POST /plain-%d HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n%s"
                     % (i, len(record), os.urandom(len(record))))
    server = subprocess.Popen([binary, "-port", "0", "-l", "127.0.0.1", "-db", "",
                               "-disableLocalIPWaring", "-maxRequests", "1000000000",
                               "-maxKeysPerIP", "0", "-maxNumKV", str(4 * count), "-threads", "1",
                               *extra], stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in server.stderr:
            match = re.search(r"listening on [^ ]*:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        if port is None:
            raise SystemExit("the server did not start")
        rows = []
        for name, requests, status in (("POST /key (plain, 272 B)", posts, b"200"),
                                       ("PUT /pk/<key> (signed, 272 B)", puts, b"204")):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                before, started = cpu_seconds(server.pid), time.monotonic()
                run(sock, requests, status)
                cpu, wall = cpu_seconds(server.pid) - before, time.monotonic() - started
            rows.append((name, cpu / count * 1e6, count / wall))
        print("| workload (%d requests, new keys) | server CPU per request | requests/s (one client) |"
              % count)
        print("|---|---|---|")
        for name, cpu_us, rate in rows:
            print("| %s | %.1f µs | %.0f |" % (name, cpu_us, rate))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
