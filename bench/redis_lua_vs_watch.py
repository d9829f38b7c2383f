#!/usr/bin/env python3
"""Lua script vs WATCH/MULTI for one rendezvous write on Redis: round trips and Redis CPU.

Usage: bench/redis_lua_vs_watch.py [SECONDS]   (starts its own redis-server; stdlib only)

Both variants do the same work as the server's write (charge the client's GCRA bucket on Redis
TIME, read the entry, check the capacity and quota counts, write the entry, the version and the
two sorted sets). The Lua variant is one EVALSHA per write. The WATCH variant keeps the rules on
the client: WATCH + reads in one flight, then MULTI ... EXEC in a second, retried from the start
when EXEC aborts because another client touched a watched key. Two workloads, 8 clients each:
"distinct" (every client writes its own keys) and "contended" (all write one key).
Prints, per variant and workload: writes/s, round trips per write, EXEC aborts per write, and
redis-server CPU µs per write.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

CLIENTS = 8


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b"-"):
            return rest if kind == b"+" else Exception(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError(line)

    def flight(self, *commands):
        """Sends the commands in one write (one round trip); returns their replies."""
        self.sock.sendall(b"".join(encode(*c) for c in commands))
        return [self.read() for _ in commands]


LUA = """
local t = redis.call('TIME')
local rnow = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[5])) or rnow
if tat < rnow then tat = rnow end
redis.call('SET', KEYS[5], string.format('%d', tat + 1), 'PX', '1000')
local cur = redis.call('HMGET', KEYS[1], 'n', 'x', 'o', 'c')
if not cur[1] then
  if redis.call('ZCARD', KEYS[2]) >= 1000000 then return 'C' end
  if redis.call('ZCARD', KEYS[3]) >= 1000000 then return 'Q' end
end
local v = redis.call('INCR', KEYS[4])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', v, 'x', '99999999999999', 'o', '', 'c', 'c')
redis.call('PEXPIRE', KEYS[1], 3600000)
redis.call('ZADD', KEYS[2], 99999999999999, ARGV[2])
redis.call('ZADD', KEYS[3], 99999999999999, ARGV[2])
return 'K'
"""


def lua_write(conn, sha, key, client, stats):
    keys = ["b:e:" + key, "b:all", "b:q:" + client, "b:version", "b:rl:" + client]
    conn.flight(["EVALSHA", sha, 5, *keys, "v" * 200, key])
    stats["trips"] += 1


def watch_write(conn, key, client, stats):
    entry, all_set, quota, version, bucket = ("b:e:" + key, "b:all", "b:q:" + client,
                                              "b:version", "b:rl:" + client)
    while True:
        replies = conn.flight(["WATCH", entry, all_set, quota, bucket], ["TIME"], ["GET", bucket],
                              ["HMGET", entry, "n", "x", "o", "c"], ["ZCARD", all_set],
                              ["ZCARD", quota])
        stats["trips"] += 1
        seconds, micros = replies[1]
        rnow = int(seconds) * 1000000 + int(micros)
        tat = max(int(replies[2] or rnow), rnow)
        replies = conn.flight(["MULTI"], ["SET", bucket, tat + 1, "PX", 1000], ["INCR", version],
                              ["DEL", entry],
                              ["HSET", entry, "v", "v" * 200, "n", "1", "x", "99999999999999",
                               "o", "", "c", "c"],
                              ["PEXPIRE", entry, 3600000], ["ZADD", all_set, 99999999999999, key],
                              ["ZADD", quota, 99999999999999, key], ["EXEC"])
        stats["trips"] += 1
        if replies[-1] is not None:
            return
        stats["aborts"] += 1


def cpu_us(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / os.sysconf("SC_CLK_TCK")


def run(port, pid, variant, contended, seconds, sha):
    stats = [{"writes": 0, "trips": 0, "aborts": 0} for _ in range(CLIENTS)]
    stop = time.monotonic() + seconds

    def client(index):
        conn = Conn(port)
        n = 0
        while time.monotonic() < stop:
            key = "hot" if contended else "k%d-%d" % (index, n % 1000)
            if variant == "lua":
                lua_write(conn, sha, key, "c%d" % index, stats[index])
            else:
                watch_write(conn, key, "c%d" % index, stats[index])
            stats[index]["writes"] += 1
            n += 1

    before = cpu_us(pid)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = cpu_us(pid) - before
    total = {k: sum(s[k] for s in stats) for k in stats[0]}
    w = max(total["writes"], 1)
    print("| %s | %s | %.0f | %.2f | %.3f | %.1f |" % (
        variant, "contended" if contended else "distinct", w / seconds, total["trips"] / w,
        total["aborts"] / w, cpu / w))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3
    work = tempfile.mkdtemp(prefix="rdv-lua-watch-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--dir", work], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                conn = Conn(port)
                break
            except OSError:
                time.sleep(0.05)
        sha = conn.flight(["SCRIPT", "LOAD", LUA])[0].decode()
        print("| variant | workload | writes/s | round trips/write | EXEC aborts/write "
              "| redis CPU µs/write |")
        print("|---|---|---:|---:|---:|---:|")
        for contended in (False, True):
            for variant in ("lua", "watch"):
                run(port, proc.pid, variant, contended, seconds, sha)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
