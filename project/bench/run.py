#!/usr/bin/python3
"""make bench: colo-proxy against upstream's chain and no filter.

Same QEMU build, same run, fake guests (no guest OS, no migration):

1. throughput: released frames/s, Mbit/s, CPU us per released frame of
   the primary, the secondary and the load driver, for payloads of 64,
   512 and 1460 bytes over 1 and 64 connections, with the driver's own
   ceiling (no QEMU);
2. added latency at fixed rates of 2k and 10k frames/s;
3. scaling: cost and memory per connection at 1, 64, 10k and 100k
   concurrent connections;
4. a mismatch storm and a SYN flood with the default bounds and no
   checkpoint ever coming: RSS, checkpoint requests, drops;
5. a fake secondary flooding the primary with output to keep (RSS).

Every configuration of 1 and 2 runs RUNS times, interleaved; medians with
min-max.  3 and 4 run once.

usage: run.py BUILD_DIR [RUNS]
"""
import json
import os
import statistics
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MODES = ["none", "upstream", "proxy"]
THR = [(p, c) for p in (64, 512, 1460) for c in (1, 64)]
FRAMES = 100000


def bench(exe, qemu, mode, payload, conns, frames, rate, scenario="same"):
    p = subprocess.run([exe, mode, qemu, str(payload), str(conns),
                        str(frames), str(rate), scenario],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, timeout=600)
    return json.loads(p.stdout)


def med(vals):
    return statistics.median(vals)


def fmt(vals, f="%.0f"):
    vals = sorted(vals)
    return (f % med(vals)) + " (" + (f % vals[0]) + "-" + \
        (f % vals[-1]) + ")"


def stat(r, side, *path):
    """A counter of query-colo-proxy's answer, or None."""
    v = r[side + "_stats"]
    if not v:
        return None
    v = v[0]["stats"]
    for k in path:
        v = v[k]
    return v


def throughput(res, runs):
    print("1. throughput, %d frames a run; median (min-max) of %d runs"
          % (FRAMES, runs))
    print("%-8s %4s %5s %24s %9s %8s %8s %8s %6s" % (
        "mode", "pay", "conns", "frames/s", "Mbit/s", "pri us",
        "sec us", "drv us", "errors"))
    for m in ["driver"] + MODES:
        for p, c in THR:
            rs = res[(m, p, c, 0)]
            print("%-8s %4d %5d %24s %9.1f %8.2f %8.2f %8.2f %6d" % (
                m, p, c, fmt([r["fps"] for r in rs]),
                med([r["mbps"] for r in rs]),
                med([r["pri_us"] for r in rs]),
                med([r["sec_us"] for r in rs]),
                med([r["drv_us"] for r in rs]),
                max(r["errors"] for r in rs)))
    print("(CPU: median us per released frame, all threads, from "
          "/proc/PID/task/*/schedstat; errors: frames missing, duplicated "
          "or out of order)")


def latency(res, runs):
    print()
    print("2. latency, 512-byte payload, 1 connection, fixed rate; "
          "median (min-max) of %d runs; added: p50 minus no filter's" % runs)
    print("%-8s %6s %22s %9s %22s %22s %6s" % (
        "mode", "fr/s", "p50 us", "added", "p99 us", "p99.9 us", "errors"))
    for m in ["driver"] + MODES:
        for rate in (2000, 10000):
            rs = res[(m, 512, 1, rate)]
            base = med([r["p50_us"] for r in res[("none", 512, 1, rate)]])
            print("%-8s %6d %22s %9s %22s %22s %6d" % (
                m, rate, fmt([r["p50_us"] for r in rs], "%.1f"),
                "-" if m in ("driver", "none") else
                "%.1f" % (med([r["p50_us"] for r in rs]) - base),
                fmt([r["p99_us"] for r in rs], "%.1f"),
                fmt([r["p999_us"] for r in rs], "%.1f"),
                max(r["errors"] for r in rs)))


def ratios(res):
    print()
    print("ratios of medians (proxy/upstream, proxy/none); targets: "
          "throughput >= 4x upstream and >= 40% of none, primary CPU "
          "<= 1/4, secondary CPU <= 1/2, added p50 <= 1/4 of upstream's, "
          "p99 at 10k fr/s < 1 ms")
    for p, c in THR:
        fps = {m: med([r["fps"] for r in res[(m, p, c, 0)]]) for m in MODES}
        pri = {m: med([r["pri_us"] for r in res[(m, p, c, 0)]])
               for m in MODES}
        sec = {m: med([r["sec_us"] for r in res[(m, p, c, 0)]])
               for m in MODES}
        print("payload %4d conns %2d: throughput x%.2f of upstream, %.0f%% "
              "of no filter; CPU/frame primary x%.2f, secondary x%.2f of "
              "upstream" % (p, c, fps["proxy"] / max(fps["upstream"], 1),
                            100 * fps["proxy"] / max(fps["none"], 1),
                            pri["proxy"] / max(pri["upstream"], 0.001),
                            sec["proxy"] / max(sec["upstream"], 0.001)))
    for rate in (2000, 10000):
        p50 = {m: med([r["p50_us"] for r in res[(m, 512, 1, rate)]])
               for m in MODES}
        p99 = med([r["p99_us"] for r in res[("proxy", 512, 1, rate)]])
        print("%5d fr/s: added p50 latency %.1f us vs %.1f us: x%.2f of "
              "upstream's; proxy p99 %.0f us" % (
                  rate, p50["proxy"] - p50["none"],
                  p50["upstream"] - p50["none"],
                  (p50["proxy"] - p50["none"]) /
                  max(p50["upstream"] - p50["none"], 1), p99))


def scaling(exe, qemu):
    print()
    print("3. scaling over N concurrent connections, 64-byte payloads: "
          "cost from 200000 frames as fast as possible; memory from a "
          "paced run (50000 fr/s, 2 frames a connection, at least 50000 "
          "frames: little is held), RSS at its end (KiB), and per "
          "connection: RSS above the paced 1-connection run's, over N")
    print("%-8s %6s %9s %8s %8s %9s %9s %8s %8s" % (
        "mode", "conns", "frames/s", "pri us", "sec us", "pri RSS",
        "sec RSS", "pri B/c", "sec B/c"))
    for m in MODES:
        base = None
        for c in (1, 64, 10000, 100000):
            r = bench(exe, qemu, m, 64, c, 200000, 0)
            mem = bench(exe, qemu, m, 64, c, max(2 * c, 50000), 50000)
            if base is None:
                base = mem
            print("%-8s %6d %9.0f %8.2f %8.2f %9d %9d %8s %8s" % (
                m, c, r["fps"], r["pri_us"], r["sec_us"], mem["pri_rss_kb"],
                mem["sec_rss_kb"],
                "-" if c == 1 else "%.0f" % (
                    (mem["pri_rss_kb"] - base["pri_rss_kb"]) * 1024 / c),
                "-" if c == 1 or m == "none" else "%.0f" % (
                    (mem["sec_rss_kb"] - base["sec_rss_kb"]) * 1024 / c)))
            sys.stdout.flush()


def storms(exe, qemu):
    print()
    print("4. no checkpoint ever comes, default bounds (colo-proxy: "
          "max-held 16384 frames, max-connections 65536, link-buffer "
          "16 MiB; upstream: colo-compare's defaults)")
    print("   mismatch: 200000 frames of 512 bytes over 64 connections, "
          "every payload of the secondary differs")
    print("   synflood: 200000 new connections: a SYN from the network, a "
          "SYN-ACK from each guest")
    print("%-8s %-9s %8s %8s %8s %8s %9s %9s %s" % (
        "mode", "scenario", "released", "held", "forced", "requests",
        "pri peak", "sec peak", "drops (primary; secondary)"))
    for sc in ("mismatch", "synflood"):
        for m in ("upstream", "proxy"):
            r = bench(exe, qemu, m, 512, 64, 200000, 0, sc)
            held = stat(r, "pri", "held-frames")
            forced = stat(r, "pri", "released-forced")
            req = stat(r, "pri", "checkpoint-requests")
            drops = [{k: v for k, v in stat(r, s, "drops").items() if v}
                     if held is not None else None for s in ("pri", "sec")]
            print("%-8s %-9s %8d %8s %8s %8s %8dM %8dM %s" % (
                m, sc, r["released"],
                "?" if held is None else held,
                "?" if forced is None else forced,
                "?" if req is None else sum(req.values()),
                r["pri_hwm_kb"] // 1024, r["sec_hwm_kb"] // 1024,
                "?" if held is None else "%s; %s" % (drops[0] or "none",
                                                     drops[1] or "none")))
            if req:
                print("%19s requests: %s; connections %d, evicted %d" % (
                    "", {k: v for k, v in req.items() if v},
                    stat(r, "pri", "connections"),
                    stat(r, "pri", "evictions")))
    print("(upstream: '?' where it has no counters; released 0 means it "
          "held or dropped them all)")


def main():
    build = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    exe = os.path.join(build, "colo-bench")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", exe,
                    os.path.join(TOP, "project/bench/colo-bench.c"),
                    "-lpthread"], check=True)
    qemu = os.path.join(build, "qemu-system-x86_64")
    res = {}
    for _ in range(runs):
        for m in ["driver"] + MODES:
            for p, c in THR:
                r = bench(exe, qemu, m, p, c, FRAMES, 0)
                res.setdefault((m, p, c, 0), []).append(r)
            for rate in (2000, 10000):
                r = bench(exe, qemu, m, 512, 1, rate * 2, rate)
                res.setdefault((m, 512, 1, rate), []).append(r)
    throughput(res, runs)
    latency(res, runs)
    ratios(res)
    sys.stdout.flush()
    scaling(exe, qemu)
    sys.stdout.flush()
    storms(exe, qemu)
    sys.stdout.flush()
    print()
    print("5. a fake secondary floods the primary with output it keeps "
          "(default bounds)")
    for payload in (1, 1400):
        subprocess.run([os.path.join(TOP, "project/bench/flood-secondary.py"),
                        build, "300", str(payload)], timeout=600)


if __name__ == "__main__":
    main()
