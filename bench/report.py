#!/usr/bin/env python3
"""Turns the raw measurements of bench/run.sh into the Markdown report.

    report.py WORK_DIR

WORK_DIR holds what run.sh recorded (one `key=value ...` record per line):
  meta.txt      settings and machine facts (one key=value per line, values may contain spaces)
  rounds.txt    one line per measured wrk round: workload, server, round, cpu_ticks and wrk's
                BENCH_RESULT fields
  rss.txt       peak RSS per workload and server
  notes.txt     workload=... note="..." (skipped workloads, warnings)
  restart.txt   one line per timed start
  memory.txt    memory rows (engine=..., key=value)
  micro.json    Google Benchmark's JSON output (optional)
  commands.txt  the exact commands, one per line
Prints the report on stdout.
"""

import json
import os
import shlex
import statistics
import sys

# Order, label and nginx reference of each workload; the number is the issue's.
WORKLOADS = {
    "get": ("(1)", "GET 100 B value, keep-alive, memory engine", "same requests"),
    "get-lmdb": ("(1)", "GET 100 B value, keep-alive, LMDB engine", "same requests"),
    "close": ("(2)", "GET 100 B value, new connection per request", "same requests"),
    "pipeline": ("(2b)", "GET 100 B value, 16 pipelined requests per write, memory engine",
                 "same requests"),
    "pipeline-lmdb": ("(2b)", "GET 100 B value, 16 pipelined requests per write, LMDB engine",
                      "same requests"),
    "post-memory": ("(3)", "POST 200 B over 100 000 keys, keep-alive, memory engine",
                    "nginx's GET (1)"),
    "post-lmdb": ("(3)", "POST 200 B over 100 000 keys, keep-alive, LMDB engine",
                  "nginx's GET (1)"),
    "mixed-memory": ("(4)", "90 % GET / 10 % POST over 100 000 keys, memory engine",
                     "same requests"),
    "mixed-lmdb": ("(4)", "90 % GET / 10 % POST over 100 000 keys, LMDB engine",
                   "same requests"),
    "limited": ("(5)", "GET from one client over its limit (429)", "nginx's GET (1), one client"),
    "list100": ("(13)", "GET /ip/*/NAME listing 100 announcers (64 B values, ~15 KB JSON), "
                "memory engine", "nginx's GET of a body as long"),
    "scaling": ("", "GET keep-alive, 2 server threads / 2 nginx workers, nothing pinned, wrk -t2",
                "same requests"),
    # TLS (issue 12): nginx with `ssl_certificate`, the same ECDSA P-256 certificate as ours.
    "tls-get": ("(TLS)", "GET 100 B value over TLS, keep-alive", "same requests, nginx TLS"),
    "tls-handshake": ("(TLS)", "GET 100 B value over TLS, full handshake per request "
                      "(openssl s_time -new)", "same requests, nginx TLS"),
}

# Capacity targets of issue 15 (ours vs nginx; the POST rows against nginx's GET).
CAPACITY_TARGETS = {
    "get": 1.1, "close": 1.0, "pipeline": 6.0, "pipeline-lmdb": 5.0, "post-lmdb": 0.6,
    "post-memory": 0.9, "tls-get": 0.9, "tls-handshake": 0.9,
}
# Targets against the limit (bench/limit_responder.cc): ours ÷ the limit's µs/req.
LIMIT_TARGETS = {"get": 0.9}


def records(path):
    """Yields a dict per line of `key=value` tokens (shell-quoted values allowed)."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = {}
            for token in shlex.split(line):
                if "=" in token:
                    key, value = token.split("=", 1)
                    rec[key] = value
            yield rec


def meta(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                out[key] = value
    return out


def num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def ms(micros):
    value = num(micros)
    return None if value is None else value / 1000


def spread(values, fmt):
    """"median (min–max)" of the values, formatted with `fmt`."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def fmt_rate(values):
    values = [v / 1000 for v in values if v is not None]
    return spread(values, "{:.1f}") + (" k" if values else "")


def other_share(rec):
    """(other, steal): the shares of the server CPU's time in a round that went to something
    other than the server (other processes, or the network stack working for wrk) and to steal;
    None when not recorded. Large values mean noisy figures."""
    busy, idle = num(rec.get("cpu_busy")), num(rec.get("cpu_idle"))
    steal, own = num(rec.get("cpu_steal")) or 0, num(rec.get("cpu_ticks"))
    if busy is None or idle is None or own is None or busy + idle + steal <= 0:
        return None
    total = busy + idle + steal
    return max(busy - own, 0) / total, steal / total


def capacity_cell(nginx_rounds, our_rounds):
    """Per-pair ratios (round i of nginx ÷ round i of ours, interleaved A B), median and range."""
    ratios = []
    for n, o in zip(nginx_rounds, our_rounds):
        if n.get("us_per_req") and o.get("us_per_req"):
            ratios.append(n["us_per_req"] / o["us_per_req"])
    return ratios


def main():
    work = sys.argv[1]
    info = meta(os.path.join(work, "meta.txt"))
    clk_tck = float(info.get("clk_tck", "100"))

    rounds = {}
    for rec in records(os.path.join(work, "rounds.txt")):
        requests = num(rec.get("requests"))
        ticks = num(rec.get("cpu_ticks"))
        duration = num(rec.get("duration_us"))
        rec["rps"] = requests / duration * 1e6 if requests and duration else None
        rec["us_per_req"] = ticks / clk_tck * 1e6 / requests if requests and ticks else None
        rounds.setdefault(rec["workload"], {}).setdefault(rec["server"], []).append(rec)
    rss = {(r["workload"], r["server"]): num(r.get("vmhwm_kb")) for r in
           records(os.path.join(work, "rss.txt"))}
    notes = {}
    for r in records(os.path.join(work, "notes.txt")):
        notes.setdefault(r["workload"], []).append(r["note"])

    out = []
    w = out.append
    w(f"# rendezvous benchmark, {info.get('date', '?')}")
    w("")
    w(f"- commit: `{info.get('commit', '?')}`")
    w(f"- CPU: {info.get('cpu_model', '?')} × {info.get('cpus', '?')}; kernel "
      f"{info.get('kernel', '?')}")
    w(f"- load average before / after: {info.get('load_before', '?')} / "
      f"{info.get('load_after', '?')}")
    shared = [other_share(r)[0] for name, by_server in rounds.items() if name != "scaling"
              for recs in by_server.values() for r in recs if other_share(r) is not None]
    if shared and max(shared) >= 0.10:
        w(f"- **the server's CPU was shared**: in measured rounds up to {max(shared):.0%} of CPU "
          f"{info.get('server_cpu', '1')} went to other processes (see Notes). Absolute figures "
          "are inflated and req/s is lower than on an idle machine; the ratios suffer less")
    w(f"- {info.get('nginx_version', 'nginx ?')}; {info.get('wrk_version', 'wrk ?')}")
    w(f"- settings: {info.get('settings', '?')}")
    w(f"- pinning: {info.get('pinning', '?')}")
    w("")
    w("CPU µs/req = the server's utime + stime (/proc/PID/stat, all its threads; nginx: its "
      "worker) over the round ÷ requests answered in it. Capacity vs nginx = nginx µs/req ÷ "
      "ours, per interleaved pair of rounds (nginx, ours, nginx, ours, ...). Each cell: median "
      "(min–max) over the rounds. Capacity vs the limit = the same against the minimal epoll "
      "responder (bench/limit_responder.cc), which gets nginx's requests and answers each with "
      "fixed bytes as long as our GET answer: what any server on this kernel can at best do. "
      "Latency from wrk (per write; with 64 connections it is mostly "
      "queueing), peak RSS = VmHWM at the end of the workload.")
    w("")
    w("| # | Workload | Server | req/s | CPU µs/req | Capacity vs nginx | Capacity vs the limit | "
      "p50 ms | p99 ms | Peak RSS MiB | Notes |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    achieved_limit = {}
    achieved = {}
    for name, (number, label, reference) in WORKLOADS.items():
        if name not in rounds and name not in notes:
            continue
        by_server = rounds.get(name, {})
        pinned = name != "scaling"
        nginx = by_server.get("nginx", [])
        ours = by_server.get("ours", [])
        limit = by_server.get("limit", [])
        row_notes = list(notes.get(name, []))
        for server, recs in (("nginx", nginx), ("limit", limit), ("ours", ours)):
            if not recs:
                continue
            cells_notes = []
            if server == "ours":
                cells_notes.extend(row_notes)
            errs = {k: sum(int(num(r.get(k)) or 0) for r in recs)
                    for k in ("connect", "read", "write", "timeout", "status")}
            socket_errs = {k: v for k, v in errs.items() if k != "status" and v}
            if socket_errs:
                cells_notes.append("socket errors " + ", ".join(
                    f"{k} {v}" for k, v in socket_errs.items()))
            total = sum(int(num(r.get("requests")) or 0) for r in recs)
            if errs["status"]:
                cells_notes.append(f"{errs['status'] / max(total, 1):.1%} answers ≥ 400")
            if pinned:
                shares = [other_share(r) for r in recs if other_share(r) is not None]
                if shares:
                    other = max(s[0] for s in shares)
                    steal = max(s[1] for s in shares)
                    if other >= 0.03:
                        cells_notes.append(f"CPU {info.get('server_cpu', '1')} busy outside the "
                                           f"server up to {other:.0%}")
                    if steal >= 0.01:
                        cells_notes.append(f"steal up to {steal:.0%}")
            if any(r.get("error") for r in recs):
                cells_notes.append("wrk failed in some rounds")
            capacity = "–"
            if server != "nginx" and nginx and recs:
                ratios = capacity_cell(nginx, recs)
                capacity = spread(ratios, "{:.2f}") + "×" if ratios else "–"
                if ratios and server == "ours":
                    achieved[name] = statistics.median(ratios)
            vs_limit = "–"
            if server == "ours" and limit and ours:
                ratios = capacity_cell(limit, ours)
                vs_limit = spread(ratios, "{:.2f}") + "×" if ratios else "–"
                if ratios:
                    achieved_limit[name] = statistics.median(ratios)
            server_label = {"nginx": "nginx", "limit": "the limit"}.get(server, "rendezvous")
            if server != "ours" and reference != "same requests":
                server_label += f" ({reference})"
            peak = rss.get((name, server))
            p50 = spread([ms(r.get("p50_us")) for r in recs], "{:.3f}")
            p99 = spread([ms(r.get("p99_us")) for r in recs], "{:.3f}")
            w(f"| {number} | {label} | {server_label} | {fmt_rate([r['rps'] for r in recs])} | "
              f"{spread([r['us_per_req'] for r in recs], '{:.2f}')} | {capacity} | {vs_limit} | "
              f"{p50} | {p99} | "
              f"{'–' if peak is None else f'{peak / 1024:.1f}'} | {'; '.join(cells_notes)} |")
        if not ours:
            w(f"| {number} | {label} | rendezvous | – | – | – | – | – | – | – | "
              f"{'; '.join(row_notes)} |")

    restart = list(records(os.path.join(work, "restart.txt")))
    if restart:
        w("")
        w("## Restart: process start to the first answered GET")
        w("")
        w("The data file was written just before (warm page cache). Median (min–max) over the "
          "starts.")
        w("")
        w("| Store | Entries | Listening after ms | First answer after ms | Notes |")
        w("|---|---|---|---|---|")
        groups = {}
        for r in restart:
            groups.setdefault((r.get("engine", "?"), r.get("entries", "?")), []).append(r)
        for (engine, entries), recs in groups.items():
            errors = [r["error"] for r in recs if r.get("error")]
            fill = next((r["fill"] for r in recs if r.get("fill")), "")
            note = "; ".join(filter(None, [fill] + sorted(set(errors))))
            w(f"| {engine} | {entries} | "
              f"{spread([num(r.get('listening_ms')) for r in recs], '{:.1f}')} | "
              f"{spread([num(r.get('first_response_ms')) for r in recs], '{:.1f}')} | {note} |")
            if engine == "lmdb" and entries == "100000":
                values = [num(r.get("first_response_ms")) for r in recs
                          if num(r.get("first_response_ms")) is not None]
                if values:
                    achieved["restart-100k"] = statistics.median(values)

    memory = list(records(os.path.join(work, "memory.txt")))
    if memory:
        w("")
        w("## Memory with 100 000 entries of 1000-byte values")
        w("")
        w("Raw bytes = the keys and values stored. VmHWM = peak resident memory of the process; "
          "RssAnon = private memory; RssFile = file pages mapped (LMDB's page cache: shared and "
          "reclaimable).")
        w("")
        w("| Store | Raw bytes MiB | VmHWM before fill MiB | VmHWM MiB | VmHWM ÷ raw | RssAnon MiB "
          "| RssFile MiB | Data file MiB (allocated) | File ÷ raw | Notes |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for r in memory:
            raw = num(r.get("raw_bytes"))
            mib = lambda kb: "–" if num(kb) is None else f"{num(kb) / 1024:.1f}"
            hwm = num(r.get("vmhwm_kb"))
            ratio = f"{hwm * 1024 / raw:.2f}×" if hwm and raw else "–"
            file_bytes = num(r.get("file_bytes"))
            alloc = num(r.get("file_alloc_bytes"))
            file_cell = "–"
            file_ratio = "–"
            if file_bytes is not None:
                file_cell = f"{file_bytes / 2**20:.1f}"
                if alloc is not None:
                    file_cell += f" ({alloc / 2**20:.1f})"
                if raw:
                    file_ratio = f"{file_bytes / raw:.2f}×"
            w(f"| {r.get('engine')} | {'–' if raw is None else f'{raw / 2**20:.1f}'} | "
              f"{mib(r.get('vmhwm_before_kb'))} | {mib(r.get('vmhwm_kb'))} | {ratio} | "
              f"{mib(r.get('rss_anon_kb'))} | {mib(r.get('rss_file_kb'))} | {file_cell} | "
              f"{file_ratio} | {r.get('note', '')} |")
            if r.get("engine") == "memory" and hwm and raw:
                achieved["memory-rss"] = hwm * 1024 / raw
            if r.get("engine") == "lmdb":
                if num(r.get("rss_anon_kb")) is not None:
                    achieved["lmdb-anon"] = num(r.get("rss_anon_kb")) / 1024
                if file_bytes and raw:
                    achieved["lmdb-file"] = file_bytes / raw

    # The targets, against this run.
    rows = []
    for name, target in CAPACITY_TARGETS.items():
        if name in achieved:
            rows.append((f"{WORKLOADS[name][1]}: capacity ≥ {target}×",
                         f"{achieved[name]:.2f}×", achieved[name] >= target))
    for name, target in LIMIT_TARGETS.items():
        if name in achieved_limit:
            rows.append((f"{WORKLOADS[name][1]}: capacity ≥ {target}× of the limit",
                         f"{achieved_limit[name]:.2f}×", achieved_limit[name] >= target))
    p99 = {}
    for server in ("ours", "nginx"):
        recs = rounds.get("get", {}).get(server, [])
        values = [num(r.get("p99_us")) for r in recs if num(r.get("p99_us")) is not None]
        if values:
            p99[server] = statistics.median(values) / 1000
    if len(p99) == 2:
        rows.append(("GET keep-alive p99 ≤ nginx's p99 (medians of the rounds)",
                     f"{p99['ours']:.3f} ms against {p99['nginx']:.3f} ms",
                     p99["ours"] <= p99["nginx"]))
    if "restart-100k" in achieved:
        rows.append(("Restart with 100 000 entries ≤ 100 ms", f"{achieved['restart-100k']:.1f} ms",
                     achieved["restart-100k"] <= 100))
    if "memory-rss" in achieved:
        rows.append(("Memory engine peak RSS ≤ 1.5× raw bytes", f"{achieved['memory-rss']:.2f}×",
                     achieved["memory-rss"] <= 1.5))
    if "lmdb-anon" in achieved:
        rows.append(("LMDB RssAnon ≤ 64 MiB", f"{achieved['lmdb-anon']:.1f} MiB",
                     achieved["lmdb-anon"] <= 64))
    if "lmdb-file" in achieved:
        rows.append(("LMDB data file ≤ 3× raw bytes", f"{achieved['lmdb-file']:.2f}×",
                     achieved["lmdb-file"] <= 3))
    if rows:
        w("")
        w("## Targets of issues 5 and 15 in this run")
        w("")
        w("| Target | Measured (median) | Met |")
        w("|---|---|---|")
        for label, value, met in rows:
            w(f"| {label} | {value} | {'yes' if met else '**no**'} |")

    micro_path = os.path.join(work, "micro.json")
    if os.path.exists(micro_path):
        try:
            with open(micro_path, encoding="utf-8") as f:
                micro = json.load(f)
        except (OSError, ValueError):
            micro = None
        if micro and micro.get("benchmarks"):
            w("")
            w("## Microbenchmarks (Google Benchmark, one thread, not pinned)")
            w("")
            lib = micro.get("context", {}).get("library_build_type", "")
            if lib == "debug":
                w("Debian's libbenchmark reports itself as a debug build; that affects the "
                  "harness, not the code measured (built -O3 here).")
                w("")
            w("| Benchmark | ns per op (CPU) | ns per op (real) | Counters |")
            w("|---|---|---|---|")
            skip = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads",
                    "iterations", "real_time", "cpu_time", "time_unit", "family_index",
                    "per_family_instance_index", "aggregate_name", "bytes_per_second",
                    "items_per_second", "error_occurred", "error_message", "label"}
            for b in micro["benchmarks"]:
                if b.get("error_occurred"):
                    w(f"| {b['name']} | – | – | error: {b.get('error_message', '')} |")
                    continue
                scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}.get(b.get("time_unit", "ns"), 1)
                counters = ", ".join(f"{k}={b[k]:.3g}" for k in b if k not in skip
                                     and isinstance(b[k], (int, float)))
                w(f"| {b['name']} | {b['cpu_time'] * scale:.1f} | {b['real_time'] * scale:.1f} | "
                  f"{counters} |")

    commands_path = os.path.join(work, "commands.txt")
    if os.path.exists(commands_path):
        w("")
        w("## Commands")
        w("")
        w("Temporary paths and ports are those of this run. wrk read its settings from the "
          "environment variables shown (bench/wrk/workload.lua).")
        w("")
        w("```")
        with open(commands_path, encoding="utf-8") as f:
            for line in f:
                w(line.rstrip("\n"))
        w("```")
    print("\n".join(out))


if __name__ == "__main__":
    main()
