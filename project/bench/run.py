#!/usr/bin/python3
"""make bench: colo-proxy against upstream's chain and no filter.

Same QEMU build, same run, fake guests (no guest OS, no migration).

The headline is a closed loop, as a user's TCP traffic behaves
(project/bench/colo-loop.c): a client's requests cross colo-proxy's link
to the secondary, both fake guests answer each with two segments, and
the client keeps a window of WINDOW requests in flight per connection;
every property is the default; colo-proxy's link is TCP with TLS and a
pre-shared key as the docs set it up (plain TCP and a unix socket as
further rows), upstream's chain is wired as docs/COLO-FT.txt says (TCP
chardevs, nodelay added).

L1. closed loop: released frames/s, Mbit/s, CPU us per released frame of
    the primary, the secondary and the load driver, payloads of 64, 512
    and 1460 bytes over 1 and 64 connections, with the driver's own
    ceiling (no QEMU);
L2. round-trip latency at fixed loads of 2k and 10k released frames/s;
L3. ratios against the targets;
L4. scale: 1, 64, 10k and 100k connections in the closed loop.

Then the one-way blast of the first version (project/bench/colo-bench.c:
the driver writes the secondary's copy of 100,000 frames, then the
primary's, over unix sockets, no client ingress, no round trip, bounds
raised), kept as a secondary table:

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

Every configuration of L1, L2, 1 and 2 runs RUNS times, interleaved;
medians with min-max.  The rest runs once.

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


# the closed loop: (mode, link) rows, requests a run, requests in flight
LOOP = [("driver", "-"), ("none", "-"), ("upstream", "-"),
        ("proxy", "tls"), ("proxy", "tcp"), ("proxy", "unix")]
LOOP_REQ = 50000
WINDOW = 8
PROXY_LINKS = ["tls", "tcp", "unix"]


def loop(exe, qemu, mode, link, payload, conns, requests, rate,
         window=WINDOW, props=""):
    p = subprocess.run([exe, mode, qemu, str(payload), str(conns),
                        str(requests), str(rate), str(window),
                        link if link != "-" else "tls", props],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, timeout=900)
    return json.loads(p.stdout) if p.stdout.strip() else None


def row_name(m, k):
    return m if k == "-" else "%s/%s" % (m, k)


def loop_table(res, runs):
    print("L1. closed loop: %d requests a run, each answered with 2 "
          "segments, %d requests in flight per connection, default "
          "properties; median (min-max) of %d runs" % (LOOP_REQ, WINDOW,
                                                        runs))
    print("%-10s %4s %5s %24s %8s %8s %8s %8s %9s %6s" % (
        "mode", "pay", "conns", "frames/s", "Mbit/s", "pri us", "sec us",
        "drv us", "rtt p50", "errors"))
    for m, k in LOOP:
        for p, c in THR:
            rs = [r for r in res[(m, k, p, c, 0)] if r]
            if not rs:
                print("%-10s %4d %5d   (no result)" % (row_name(m, k), p, c))
                continue
            print("%-10s %4d %5d %24s %8.1f %8.2f %8.2f %8.2f %9.0f %6d" % (
                row_name(m, k), p, c, fmt([r["fps"] for r in rs]),
                med([r["mbps"] for r in rs]),
                med([r["pri_us"] for r in rs]),
                med([r["sec_us"] for r in rs]),
                med([r["drv_us"] for r in rs]),
                med([r["p50_us"] for r in rs]),
                max(r["errors"] for r in rs) + runs - len(rs)))
    print("(frames/s: released segments; CPU: us per released frame, all "
          "threads, from /proc/PID/task/*/schedstat; rtt: a request sent "
          "to its answer's last segment released, us; errors: segments "
          "missing, duplicated or out of order)")


def loop_latency(res, runs):
    print()
    print("L2. closed-loop round trip at a fixed load, 512-byte payload, 1 "
          "connection; median (min-max) of %d runs; added: p50 minus no "
          "filter's" % runs)
    print("%-10s %6s %22s %9s %22s %22s %6s" % (
        "mode", "fr/s", "p50 us", "added", "p99 us", "p99.9 us", "errors"))
    for m, k in LOOP:
        for rate in (2000, 10000):
            rs = [r for r in res[(m, k, 512, 1, rate)] if r]
            base = med([r["p50_us"] for r in res[("none", "-", 512, 1, rate)]
                        if r] or [0])
            if not rs:
                continue
            print("%-10s %6d %22s %9s %22s %22s %6d" % (
                row_name(m, k), rate, fmt([r["p50_us"] for r in rs], "%.1f"),
                "-" if m in ("driver", "none") else
                "%.1f" % (med([r["p50_us"] for r in rs]) - base),
                fmt([r["p99_us"] for r in rs], "%.1f"),
                fmt([r["p999_us"] for r in rs], "%.1f"),
                max(r["errors"] for r in rs)))


def loop_med(res, key, m, k, p, c, rate=0):
    vals = [r[key] for r in res[(m, k, p, c, rate)] if r]
    return med(vals) if vals else float("nan")


def loop_ratios(res):
    print()
    print("L3. ratios of medians (colo-proxy/upstream, colo-proxy/no "
          "filter); targets: throughput >= 4x upstream and >= 50% of no "
          "filter, primary CPU <= 0.25x, secondary <= 0.5x, added p50 <= "
          "0.25x of upstream's, p99 at 10k fr/s < 1 ms")
    for k in PROXY_LINKS:
        for p, c in THR:
            fps = loop_med(res, "fps", "proxy", k, p, c)
            up = loop_med(res, "fps", "upstream", "-", p, c)
            none = loop_med(res, "fps", "none", "-", p, c)
            pri = loop_med(res, "pri_us", "proxy", k, p, c)
            sec = loop_med(res, "sec_us", "proxy", k, p, c)
            print("link %-4s payload %4d conns %2d: throughput x%.2f of "
                  "upstream, %.0f%% of no filter; CPU/frame primary x%.2f, "
                  "secondary x%.2f of upstream" % (
                      k, p, c, fps / max(up, 1), 100 * fps / max(none, 1),
                      pri / max(loop_med(res, "pri_us", "upstream", "-",
                                         p, c), 0.001),
                      sec / max(loop_med(res, "sec_us", "upstream", "-",
                                         p, c), 0.001)))
        for rate in (2000, 10000):
            none = loop_med(res, "p50_us", "none", "-", 512, 1, rate)
            up = loop_med(res, "p50_us", "upstream", "-", 512, 1, rate)
            pr = loop_med(res, "p50_us", "proxy", k, 512, 1, rate)
            p99 = loop_med(res, "p99_us", "proxy", k, 512, 1, rate)
            print("link %-4s %5d fr/s: added p50 %.1f us vs upstream's "
                  "%.1f us: x%.2f; p99 %.0f us" % (
                      k, rate, pr - none, up - none,
                      (pr - none) / max(up - none, 1), p99))


def loop_scale(exe, qemu):
    print()
    print("L4. scale: N connections in the closed loop, 64-byte payloads, "
          "1 request in flight per connection, 4 requests a connection (at "
          "least 50000), default properties, link tls; RSS at the end (KiB)")
    print("%-10s %6s %9s %8s %8s %9s %9s %6s  %s" % (
        "mode", "conns", "frames/s", "pri us", "sec us", "pri RSS",
        "sec RSS", "errors", "colo-proxy: connections, evictions, drops"))
    rows = [(m, k, c, "") for m, k in [("none", "-"), ("upstream", "-"),
                                       ("proxy", "tls")]
            for c in (1, 64, 10000, 100000)]
    # past the default max-connections, as a user would configure it
    rows.append(("proxy", "tls", 100000, "max-connections=131072"))
    for m, k, c, props in rows:
        r = loop(exe, qemu, m, k, 64, c, max(4 * c, 50000), 0, 1, props)
        name = row_name(m, k) + ("*" if props else "")
        if not r:
            print("%-10s %6d   (no result)" % (name, c))
            continue
        print("%-10s %6d %9.0f %8.2f %8.2f %9d %9d %6d  %s" % (
            name, c, r["fps"], r["pri_us"], r["sec_us"], r["pri_rss_kb"],
            r["sec_rss_kb"], r["errors"], scale_stats(r)))
        sys.stdout.flush()
    print("(*: max-connections=131072 on both sides; the default is 65536."
          "  Errors past it: answers held for a checkpoint, which never "
          "comes here: no COLO thread runs)")


def scale_stats(r):
    """Connections, evictions, drops and offsets lost of each side."""
    if r["mode"] != "proxy" or not r["pri_stats"] or not r["sec_stats"]:
        return ""
    ps, ss = r["pri_stats"][0]["stats"], r["sec_stats"][0]["stats"]
    req = {a: b for a, b in ps["checkpoint-requests"].items() if b}
    return "primary %d, %d, %s; secondary %d, %d, %s, offsets-lost %d%s" % (
        ps["connections"], ps["evictions"],
        {a: b for a, b in ps["drops"].items() if b} or "none",
        ss["connections"], ss["evictions"],
        {a: b for a, b in ss["drops"].items() if b} or "none",
        ss["offsets-lost"], "; requests %s" % req if req else "")


def closed_loop(exe, qemu, runs):
    res = {}
    for _ in range(runs):
        for m, k in LOOP:
            for p, c in THR:
                res.setdefault((m, k, p, c, 0), []).append(
                    loop(exe, qemu, m, k, p, c, LOOP_REQ, 0))
            for rate in (2000, 10000):
                # rate: released frames/s, two a request
                res.setdefault((m, k, 512, 1, rate), []).append(
                    loop(exe, qemu, m, k, 512, 1, rate * 2, rate // 2))
    loop_table(res, runs)
    loop_latency(res, runs)
    loop_ratios(res)
    sys.stdout.flush()
    loop_scale(exe, qemu)
    print()
    print("One-way blast (the first version's benchmark: no client "
          "ingress, no round trip, unix link, bounds raised)")
    print()


def main():
    build = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    exe = os.path.join(build, "colo-bench")
    lexe = os.path.join(build, "colo-loop")
    for out, src in ((exe, "colo-bench.c"), (lexe, "colo-loop.c")):
        subprocess.run(["gcc", "-O2", "-Wall", "-o", out,
                        os.path.join(TOP, "project/bench", src),
                        "-lpthread"], check=True)
    qemu = os.path.join(build, "qemu-system-x86_64")
    closed_loop(lexe, qemu, runs)
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
