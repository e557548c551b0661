#!/usr/bin/python3
"""make bench: colo-proxy against upstream's chain and no filter.

Same QEMU build, same run, fake guests (no guest OS, no migration):
released frames/s, Mbit/s and CPU us per released frame of the primary
and the secondary, for payloads of 64, 512 and 1460 bytes over 1 and 64
connections; added latency at fixed rates; the load driver's own ceiling.
Every configuration runs RUNS times, interleaved; medians with min-max.

usage: run.py BUILD_DIR [RUNS]
"""
import json
import os
import statistics
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def bench(exe, qemu, mode, payload, conns, frames, rate):
    p = subprocess.run([exe, mode, qemu, str(payload), str(conns),
                        str(frames), str(rate)], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=300)
    return json.loads(p.stdout)


def fmt(vals, f="%.0f"):
    vals = sorted(vals)
    return (f % statistics.median(vals)) + " (" + (f % vals[0]) + "-" + \
        (f % vals[-1]) + ")"


def main():
    build = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    exe = os.path.join(build, "colo-bench")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", exe,
                    os.path.join(TOP, "project/bench/colo-bench.c"),
                    "-lpthread"], check=True)
    qemu = os.path.join(build, "qemu-system-x86_64")
    modes = ["none", "upstream", "proxy"]
    thr = [(p, c) for p in (64, 512, 1460) for c in (1, 64)]
    res = {}
    for _ in range(runs):
        for m in ["driver"] + modes:
            for p, c in thr:
                r = bench(exe, qemu, m, p, c, 20000, 0)
                res.setdefault((m, p, c, 0), []).append(r)
            for rate in (2000, 10000):
                r = bench(exe, qemu, m, 512, 1, rate * 2, rate)
                res.setdefault((m, 512, 1, rate), []).append(r)
    print("throughput, 20000 frames a run; median (min-max) of %d runs" % runs)
    print("%-9s %7s %5s %22s %9s %15s %15s %7s" % (
        "mode", "payload", "conns", "frames/s", "Mbit/s", "pri us/frame",
        "sec us/frame", "errors"))
    for m in ["driver"] + modes:
        for p, c in thr:
            rs = res[(m, p, c, 0)]
            print("%-9s %7d %5d %22s %9s %15s %15s %7d" % (
                m, p, c, fmt([r["fps"] for r in rs]),
                fmt([r["mbps"] for r in rs], "%.1f"),
                fmt([r["pri_us"] for r in rs], "%.2f"),
                fmt([r["sec_us"] for r in rs], "%.2f"),
                max(r["errors"] for r in rs)))
    print()
    print("added latency, 512-byte payload, 1 connection, fixed rate")
    print("%-9s %6s %18s %18s %18s %7s" % ("mode", "fr/s", "p50 us",
                                           "p99 us", "p99.9 us", "errors"))
    for m in ["driver"] + modes:
        for rate in (2000, 10000):
            rs = res[(m, 512, 1, rate)]
            print("%-9s %6d %18s %18s %18s %7d" % (
                m, rate, fmt([r["p50_us"] for r in rs], "%.1f"),
                fmt([r["p99_us"] for r in rs], "%.1f"),
                fmt([r["p999_us"] for r in rs], "%.1f"),
                max(r["errors"] for r in rs)))
    print()
    print("ratios of medians (proxy/upstream, proxy/none)")
    for p, c in thr:
        med = {m: statistics.median(r["fps"] for r in res[(m, p, c, 0)])
               for m in modes}
        cpu = {m: statistics.median(r["pri_us"] for r in res[(m, p, c, 0)])
               for m in modes}
        print("payload %4d conns %2d: throughput x%.2f of upstream, %.0f%% "
              "of no filter; primary CPU/frame x%.2f of upstream" % (
                  p, c, med["proxy"] / max(med["upstream"], 1),
                  100 * med["proxy"] / max(med["none"], 1),
                  cpu["proxy"] / max(cpu["upstream"], 0.01)))
    for rate in (2000, 10000):
        p50 = {m: statistics.median(r["p50_us"] for r in res[(m, 512, 1, rate)])
               for m in modes}
        print("%5d fr/s: added p50 latency x%.2f of upstream's" % (
            rate, (p50["proxy"] - p50["none"]) /
            max(p50["upstream"] - p50["none"], 1)))


if __name__ == "__main__":
    main()
