#!/usr/bin/env python3
"""Helpers for bench/run.sh: turns raw results into numbers and docs/benchmarks.md.

  report.py pgbench-log RATE LOG...      RESULT line from pgbench -R -l logs
  report.py field FILE LABEL KEY          one value of the RESULT line labelled LABEL
  report.py max FILE PREFIX KEY           the largest KEY among lines whose label starts with PREFIX
  report.py oha FILE                      RESULT line from `oha --output-format json`
  report.py criterion FILE                markdown table from `cargo bench` output
  report.py markdown RESULTS META CRITERION PROFILE OUT   writes the report

A results file holds lines `LABEL RESULT key=value ...`, one per measured point.
"""
import json
import os
import math
import re
import sys


def parse_results(path):
    rows = {}
    order = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if " RESULT " not in line:
                continue
            label, rest = line.split(" RESULT ", 1)
            fields = dict(kv.split("=", 1) for kv in rest.split())
            rows[label] = fields
            order.append(label)
    return rows, order


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = max(1, math.ceil(len(sorted_values) * p / 100)) - 1
    return sorted_values[i]


def pgbench_log(rate, logs):
    # pgbench -R -l: "client tx time_us script epoch epoch_us lag_us". The
    # latency a client would see is the wait behind schedule (lag) plus the
    # transaction itself, as pgbench's own -R latency average counts it.
    lat, first, last = [], None, None
    for path in logs:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6 or parts[2] == "skipped":
                    continue
                t = int(parts[2]) + (int(parts[6]) if len(parts) > 6 else 0)
                lat.append(t / 1000.0)
                end = int(parts[4]) + int(parts[5]) / 1e6
                first = end if first is None else min(first, end)
                last = end if last is None else max(last, end)
    lat.sort()
    seconds = (last - first) if lat and last > first else 1.0
    return (
        f"mode=open target={rate} requests={len(lat)} seconds={seconds:.3f} rps={len(lat) / seconds:.1f} "
        f"p50_ms={percentile(lat, 50):.3f} p99_ms={percentile(lat, 99):.3f} "
        f"p999_ms={percentile(lat, 99.9):.3f} max_ms={percentile(lat, 100):.3f}"
    )


def oha(path):
    with open(path) as f:
        d = json.load(f)
    s = d["summary"]
    p = d["latencyPercentiles"]
    codes = d.get("statusCodeDistribution", {})
    non200 = sum(v for k, v in codes.items() if k != "200")
    n = sum(codes.values())
    return (
        f"mode=open-oha requests={n} seconds={s['total']:.3f} rps={s['requestsPerSec']:.1f} "
        f"p50_ms={p['p50'] * 1000:.3f} p99_ms={p['p99'] * 1000:.3f} p999_ms={p['p99.9'] * 1000:.3f} "
        f"max_ms={s['slowest'] * 1000:.3f} non200={non200}"
    )


UNITS = {"ps": 1e-6, "ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}


def criterion(path):
    out = ["| benchmark | time per iteration (median estimate) | 95 % interval |", "|---|---:|---|"]
    name = None
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\S+/\S+)\s*(time:.*)?$", line.rstrip())
            if m and not line.startswith(" "):
                name = m.group(1)
            t = re.search(r"time:\s+\[(\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\]", line)
            if t and name:
                lo, mid, hi = f"{t.group(1)} {t.group(2)}", f"{t.group(3)} {t.group(4)}", f"{t.group(5)} {t.group(6)}"
                out.append(f"| `{name}` | {mid} | {lo} … {hi} |")
                name = None
    return "\n".join(out)


def f(rows, label, key, fmt="{:.1f}"):
    v = rows.get(label, {}).get(key)
    return fmt.format(float(v)) if v is not None else "–"


def load_table(rows, order, prefix):
    lines = [
        "| point | target rps | achieved rps | p50 ms | p99 ms | p99.9 ms | max ms | non-200 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in order:
        if not label.startswith(prefix):
            continue
        r = rows[label]
        lines.append(
            f"| {label} | {r.get('target', '–')} | {float(r['rps']):.1f} | {float(r['p50_ms']):.3f} | "
            f"{float(r['p99_ms']):.3f} | {float(r['p999_ms']):.3f} | {float(r['max_ms']):.3f} | {r.get('non200', '0')} |"
        )
    return "\n".join(lines)


def markdown(results, meta_path, criterion_path, profile_path, out):
    rows, order = parse_results(results)
    meta = {}
    with open(meta_path) as fh:
        for line in fh:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v

    def sat(prefix):
        vals = [float(rows[l]["rps"]) for l in order if l.startswith(prefix)]
        return max(vals) if vals else float("nan")

    b0 = sat("B0 closed")
    b1u = float(rows.get("B1 uniform closed", {}).get("pgbench_tps", "nan"))
    b1h = float(rows.get("B1 hot closed", {}).get("pgbench_tps", "nan"))
    b2u = float(rows.get("B2 uniform closed", {}).get("pgbench_tps", "nan"))
    b2h = float(rows.get("B2 hot closed", {}).get("pgbench_tps", "nan"))
    b3u = sat("B3 uniform closed")
    b3h = sat("B3 hot closed")

    def p99(label):
        return float(rows.get(label, {}).get("p99_ms", "nan"))

    ratio_u = b3u / b1u if b1u else float("nan")
    ratio_h = b3h / b1h if b1h else float("nan")
    dp_u = p99("B3 uniform open 50%") - p99("B1 uniform open 50%")
    dp_h = p99("B3 hot open 50%") - p99("B1 hot open 50%")

    def verdict(ok):
        return "meets the target" if ok else "**misses the target**"

    with open(out, "w") as o:
        w = o.write
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "header.md")) as h:
            w(h.read())
        w("\n## This run\n\n")
        for k in ["DATE", "COMMIT", "MACHINE", "CPU", "RAM", "KERNEL", "LOAD_BEFORE", "LOAD_AFTER", "RUSTC", "POSTGRES",
                  "PG_SETTINGS", "TOOLS", "DURATION", "POOL", "B3_USERS", "SERVER_ENV"]:
            if k in meta:
                w(f"- **{k.replace('_', ' ').lower()}**: {meta[k]}\n")
        def p50(label):
            return float(rows.get(label, {}).get("p50_ms", "nan"))

        w("\n## Ratios (targets: B3 ÷ B2 ≥ 0.8, B2 ÷ B1 ≥ 0.6)\n\n")
        w("| ratio | uniform users | one hot user |\n|---|---:|---:|\n")
        w(f"| B3 saturation rps ÷ B2 TPS (the gateway vs its own SQL) | **{b3u / b2u:.2f}** ({b3u:.0f} ÷ {b2u:.0f}) — {verdict(b3u / b2u >= 0.8)} "
          f"| **{b3h / b2h:.2f}** ({b3h:.0f} ÷ {b2h:.0f}) — {verdict(b3h / b2h >= 0.8)} |\n")
        w(f"| B2 TPS ÷ B1 TPS (a chat's whole SQL vs the bare debit) | **{b2u / b1u:.2f}** ({b2u:.0f} ÷ {b1u:.0f}) — {verdict(b2u / b1u >= 0.6)} "
          f"| **{b2h / b1h:.2f}** ({b2h:.0f} ÷ {b1h:.0f}) — {verdict(b2h / b1h >= 0.6)} |\n")
        w(f"| B3 saturation rps ÷ B1 TPS | {ratio_u:.2f} | {ratio_h:.2f} |\n")
        w(f"| overhead over the upstream at 50 % load, p50 (B3 p50 − B0 p50) | {p50('B3 uniform open 50%') - p50('B0 open 50%'):+.2f} ms "
          f"| {p50('B3 hot open 50%') - p50('B0 open 50%'):+.2f} ms |\n")
        w(f"| overhead over the upstream at 50 % load, p99 (B3 p99 − B0 p99) | {p99('B3 uniform open 50%') - p99('B0 open 50%'):+.2f} ms "
          f"| {p99('B3 hot open 50%') - p99('B0 open 50%'):+.2f} ms |\n")
        w(f"| *diagnostic:* B3 p99 − B1 p99 at 50 % load | {dp_u:+.2f} ms | {dp_h:+.2f} ms |\n")
        w(f"| *diagnostic:* B3 p99 − B2 p99 at 50 % load | {p99('B3 uniform open 50%') - p99('B2 uniform open 50%'):+.2f} ms "
          f"| {p99('B3 hot open 50%') - p99('B2 hot open 50%'):+.2f} ms |\n")
        w("\n“50 % load” is 50 % of each system's own saturation (B1: pgbench TPS at the pool's "
          "connection count; B3: the best closed-loop rps of the sweep).\n")
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")) as a:
            w(a.read())
        w("\n## Server\n\n")
        for k in ["STARTUP_MS", "RSS_IDLE_KB", "RSS_PEAK_KB", "GRANT_MS"]:
            if k in meta:
                w(f"- **{k}**: {meta[k]}\n")
        w(f"\n## B0: the zero-latency upstream alone (saturation {b0:.0f} rps)\n\n")
        w("Closed-loop sweep:\n\n" + load_table(rows, order, "B0 closed") + "\n\n")
        w("Open loop at fractions of saturation:\n\n" + load_table(rows, order, "B0 open") + "\n")
        w("\n## B1: askgate's debit statement in pgbench\n\n")
        w(f"Closed loop at {meta.get('POOL', '?')} connections: uniform {b1u:.0f} TPS, hot user {b1h:.0f} TPS.\n\n")
        w(load_table(rows, order, "B1") + "\n")
        w(f"\n## B2: the whole SQL of one chat in pgbench (diagnostic)\n\n")
        w(f"Closed loop at {meta.get('POOL', '?')} connections: uniform {b2u:.0f} TPS, hot user {b2h:.0f} TPS.\n\n")
        w(load_table(rows, order, "B2") + "\n")
        w(f"\n## B3: askgate's chat path against B0 (saturation: uniform {b3u:.0f} rps, hot {b3h:.0f} rps)\n\n")
        w("Closed-loop sweeps:\n\n" + load_table(rows, order, "B3 uniform closed") + "\n\n"
          + load_table(rows, order, "B3 hot closed") + "\n\n")
        w("Open loop at fractions of saturation:\n\n" + load_table(rows, order, "B3 uniform open") + "\n\n"
          + load_table(rows, order, "B3 hot open") + "\n")
        if any(l.startswith("oha") for l in order):
            w("\nCross-check with `oha -q RATE --latency-correction` (same points, fixed token):\n\n"
              + load_table(rows, order, "oha") + "\n")
        w("\n## Micro-benchmarks (criterion)\n\n")
        with open(criterion_path) as c:
            w(c.read() + "\n")
        try:
            with open(profile_path) as p:
                prof = p.read().strip()
        except OSError:
            prof = ""
        if prof:
            w("\n## Where B3's time goes (perf, hot path under the closed-loop load)\n\n```\n" + prof + "\n```\n")
        w("\n## Raw results\n\n```\n")
        with open(results) as r:
            w(r.read())
        w("```\n")
    print(f"ratio_uniform={ratio_u:.3f} ratio_hot={ratio_h:.3f} dp99_uniform_ms={dp_u:.3f} dp99_hot_ms={dp_h:.3f}")


def main(argv):
    cmd = argv[1]
    if cmd == "pgbench-log":
        print(pgbench_log(argv[2], argv[3:]))
    elif cmd == "field":
        rows, _ = parse_results(argv[2])
        print(rows[argv[3]][argv[4]])
    elif cmd == "max":
        rows, order = parse_results(argv[2])
        print(max(float(rows[l][argv[4]]) for l in order if l.startswith(argv[3])))
    elif cmd == "oha":
        print(oha(argv[2]))
    elif cmd == "criterion":
        print(criterion(argv[2]))
    elif cmd == "markdown":
        markdown(*argv[2:7])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
