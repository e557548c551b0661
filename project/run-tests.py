#!/usr/bin/python3
"""Run the project's tests and print one summary line.

Each test is a command that prints TAP (the qtests with --tap, the series
checks).  Every "ok"/"not ok" line counts; a command that exits non-zero
without a failing TAP line counts as one failure.  The last line printed is
"N passed, N failed, N skipped", after the failing lines again (a CI log
often keeps only its tail).

usage: run-tests.py [--sanitize] BUILD_DIR [TEST ...]   (default: every test)

--sanitize: BUILD_DIR is built with ASan and UBSan; run the unit tests
and colo-proxy's qtests, and fail on any report (UBSan halts on the
first; LeakSanitizer checks the unit tests, not QEMU, which leaves its
objects to the OS at exit).
"""
import os
import re
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Run only when named (make check-cluster): the virtio-net cluster run
# fails about one time in three at its first failover, the survivor's
# virtio-net broken after a checkpoint (an open bug, see the README).
EXPLICIT = {"cluster-virtio"}

# A test command still running after this long has hung: fail it.
TIMEOUT = 900

# glib's TAP chatter that says nothing about a result
NOISE = r"^# (starting QEMU|Start of|End of|random seed)"

UNITS = [
    "test-colo-proxy-link",
    "test-colo-proxy-packet",
    "test-colo-proxy-conn",
    "test-colo-proxy-seq",
    "test-colo-proxy-rewrite",
    "test-colo-proxy-compare",
    "test-colo-proxy-http",
]

QTESTS = [
    "colo-proxy-test",
    "test-filter-mirror",
    "test-filter-redirector",
    "qom-test",
]


SAN_ENV = {
    "UBSAN_OPTIONS": "halt_on_error=1:abort_on_error=1:print_stacktrace=1",
    "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1",
}


def sanitize_tests(build):
    uenv = dict(os.environ, **SAN_ENV)
    qenv = dict(uenv, QTEST_QEMU_BINARY="./qemu-system-x86_64",
                ASAN_OPTIONS="abort_on_error=1:detect_leaks=0",
                PYTHON="/usr/bin/python3")
    out = [("san-colo-proxy-test",
            [os.path.join(build, "tests/qtest/colo-proxy-test"), "--tap",
             "-k"], build, qenv)]
    for t in UNITS:
        out.append(("san-" + t, [os.path.join(build, "tests/unit", t),
                                 "--tap", "-k"], build, uenv))
    return out


def tests(build):
    qenv = dict(os.environ,
                QTEST_QEMU_BINARY="./qemu-system-x86_64",
                PYTHON="/usr/bin/python3")
    out = []
    for t in QTESTS:
        out.append((t, [os.path.join(build, "tests/qtest", t), "--tap", "-k"],
                    build, qenv))
    for t in UNITS:
        out.append((t, [os.path.join(build, "tests/unit", t), "--tap", "-k"],
                    build, dict(os.environ)))
    out.append(("fuzz", [os.path.join(TOP, "project/fuzz/run.sh"),
                         os.path.join(build, "../src"), build],
                TOP, dict(os.environ)))
    e2e = os.path.join(TOP, "project/e2e/colo_e2e.py")
    # with busybox httpd's Date on :80 treated by http-date-ports: its
    # random CGI must still make checkpoints
    out.append(("e2e-primary-lost", [e2e, build, "--scenario",
                                     "primary-lost", "--proxy-option",
                                     "http-date-ports=80"],
                TOP, dict(os.environ)))
    out.append(("e2e-secondary-lost", [e2e, build, "--scenario",
                                       "secondary-lost", "--cmdline"],
                TOP, dict(os.environ)))
    out.append(("e2e-primary-lost-virtio", [e2e, build, "--scenario",
                                            "primary-lost", "--nic",
                                            "virtio"],
                TOP, dict(os.environ)))
    out.append(("e2e-reprotect-virtio", [e2e, build, "--scenario",
                                         "reprotect", "--nic", "virtio",
                                         "--cmdline"],
                TOP, dict(os.environ)))
    out.append(("ocf-agent", [os.path.join(TOP, "project/ocf/agent_test.py"),
                              build], TOP, dict(os.environ)))
    cluster = os.path.join(TOP, "project/cluster/colo_cluster.py")
    out.append(("cluster", [cluster, build], TOP, dict(os.environ)))
    out.append(("cluster-virtio", [cluster, build, "--nic", "virtio"], TOP,
                dict(os.environ)))
    out.append(("series", [os.path.join(TOP, "project/check-series.sh")],
                TOP, dict(os.environ)))
    return out


def run(name, argv, cwd, env):
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    passed = failed = skipped = 0
    failures = []
    fired = threading.Event()

    def kill():
        fired.set()
        proc.kill()

    watchdog = threading.Timer(TIMEOUT, kill)
    watchdog.start()
    for line in proc.stdout:
        line = line.rstrip("\n")
        m = re.match(r"^(not ok|ok)\b(.*)$", line)
        if m:
            if "# SKIP" in m.group(2):
                skipped += 1
            elif m.group(1) == "ok":
                passed += 1
            else:
                failed += 1
                failures.append(f"{name}: {line}")
            print(f"{name}: {line}", flush=True)
        elif line.startswith("1..") or re.match(NOISE, line):
            continue
        else:
            print(f"{name}| {line}", flush=True)
    rc = proc.wait()
    watchdog.cancel()
    if fired.is_set():
        failures.append(f"{name}: not ok - killed after {TIMEOUT} s")
        print(failures[-1])
        failed += 1
    if rc != 0 and failed == 0:
        failures.append(f"{name}: not ok - exited with status {rc}")
        print(failures[-1])
        failed += 1
    took = time.monotonic() - start
    print(f"{name}: {passed} passed, {failed} failed, {skipped} skipped "
          f"({took:.1f} s)", flush=True)
    return passed, failed, skipped, failures


def main():
    args = sys.argv[1:]
    sanitize = args[:1] == ["--sanitize"]
    args = args[sanitize:]
    if not args:
        sys.exit(__doc__)
    build = os.path.abspath(args[0])
    want = set(args[1:])
    totals = [0, 0, 0]
    failures = []
    for name, argv, cwd, env in (sanitize_tests if sanitize else
                                 tests)(build):
        if (want and name not in want) or (not want and name in EXPLICIT):
            continue
        *counts, failed_lines = run(name, argv, cwd, env)
        for i, n in enumerate(counts):
            totals[i] += n
        failures += failed_lines
    for line in failures:
        print(f"failed: {line}")
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    sys.exit(1 if totals[1] or not totals[0] else 0)


if __name__ == "__main__":
    main()
