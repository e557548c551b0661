#!/usr/bin/env bash
# The main job, for now: start a primary and a secondary QEMU, each with an
# e1000 NIC whose netdev carries colo-proxy (one given with -object on the
# command line, one added at run time with QMP object-add), show what QMP
# reports about them, and stop both.  The full COLO demo (a real guest under
# COLO, client load, failover) replaces this as the series grows.
#
# usage: project/demo.sh BUILD_DIR
set -euo pipefail
bld=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
qemu=$bld/qemu-system-x86_64
run=$(mktemp -d /tmp/colo-proxy-demo.XXXXXX)
pids=()

cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

start() {   # NAME EXTRA-ARGS...
    local name=$1
    shift
    "$qemu" -L /usr/share/qemu -L /usr/share/seabios -L /usr/lib/ipxe/qemu \
        -M pc -accel tcg -nodefaults -display none -S -m 128 \
        -netdev user,id=hn0,restrict=on \
        -device e1000,netdev=hn0,mac=52:54:00:12:34:56 \
        -qmp "unix:$run/$name.qmp,server=on,wait=off" \
        "$@" > "$run/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        [ -S "$run/$name.qmp" ] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "demo: $name QEMU did not start; see $run/$name.log" >&2
    cat "$run/$name.log" >&2
    exit 1
}

echo "== starting the secondary with -object colo-proxy"
start secondary \
    -object "colo-proxy,id=cp0,netdev=hn0,mode=secondary,addr=unix:$run/link"
echo "== starting the primary, then adding colo-proxy with QMP object-add"
start primary

PYTHONPATH="$top/project" /usr/bin/python3 - "$run" <<'PY'
import sys
from qmp import QMP
run = sys.argv[1]
pri, sec = QMP(f"{run}/primary.qmp"), QMP(f"{run}/secondary.qmp")
pri.cmd("object-add", **{"qom-type": "colo-proxy", "id": "cp0",
                         "netdev": "hn0", "mode": "primary",
                         "addr": f"unix:{run}/link"})
for name, q in (("primary", pri), ("secondary", sec)):
    props = {p: q.cmd("qom-get", path="/objects/cp0", property=p)
             for p in ("netdev", "mode", "addr", "queue", "status")}
    print(f"{name:9}: colo-proxy cp0 " +
          " ".join(f"{k}={v}" for k, v in props.items()))
try:
    pri.cmd("object-add", **{"qom-type": "colo-proxy", "id": "cp1",
                             "netdev": "hn0", "mode": "primary",
                             "addr": "127.0.0.1:9000"})
except Exception as e:
    print(f"a second colo-proxy on hn0 is refused: {e}")
pri.cmd("object-del", id="cp0")
print("primary  : object-del cp0 done")
for q in (pri, sec):
    q.cmd("quit")
PY
echo "== done; logs in $run"
