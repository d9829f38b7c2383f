#!/usr/bin/env python3
"""Times a server start: from launching the command to the first answered GET.

    first_request.py --path /bench/f500 [--expect 200] [--timeout 60] -- COMMAND...

Starts COMMAND (the rendezvous server with -port 0), reads its stderr until it logs
"listening on HOST:PORT", then sends `GET PATH` (Connection: close) until an answer with the
expected status arrives. Prints one line

    BENCH_START listening_ms=... first_response_ms=... status=...

then stops the server with SIGTERM (SIGKILL after 30 s) and waits for it. On failure (the
command exits or stays silent) prints `BENCH_START error="..."` with the server's last log line
and exits 1. Used by bench/run.sh for the restart-time rows.
"""

import argparse
import re
import signal
import socket
import subprocess
import sys
import threading
import time

LISTENING = re.compile(r"listening on (\S+):(\d+)")


def get_status(host, port, path):
    """One GET over a fresh connection; returns the status code, or None if not answered."""
    try:
        with socket.create_connection((host, port), timeout=5) as conn:
            conn.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(match.group(1)) if match else None


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", required=True)
    parser.add_argument("--expect", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")

    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    found = threading.Event()
    address = {}
    last_line = [""]

    # Reads stderr to the end, so a chatty server never blocks on a full pipe.
    def read_log():
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                last_line[0] = line
            match = LISTENING.search(line)
            if match and not found.is_set():
                address["host"], address["port"] = match.group(1), int(match.group(2))
                address["at"] = time.monotonic()
                found.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        while not found.wait(0.001):
            if proc.poll() is not None or time.monotonic() - start > args.timeout:
                reader.join(1)
                print(f'BENCH_START error="{last_line[0] or "no output"}"')
                return 1
        host = address["host"].strip("[]")
        status = None
        while time.monotonic() - start < args.timeout:
            status = get_status(host, address["port"], args.path)
            if status == args.expect:
                break
            if proc.poll() is not None:
                break
        done = time.monotonic()
        if status != args.expect:
            print(f'BENCH_START error="no {args.expect} answer (last status {status}): '
                  f'{last_line[0]}"')
            return 1
        print(f"BENCH_START listening_ms={(address['at'] - start) * 1e3:.1f} "
              f"first_response_ms={(done - start) * 1e3:.1f} status={status}")
        return 0
    finally:
        stop(proc)
        reader.join(5)


if __name__ == "__main__":
    sys.exit(main())
