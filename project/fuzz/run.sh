#!/usr/bin/env bash
# Build the libFuzzer targets against the laid QEMU tree and run each for a
# bounded time on a copy of its committed corpus.  Prints TAP.
#
# usage: project/fuzz/run.sh SRC_TREE BUILD_DIR [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
src=$(realpath "$1")
bld=$(realpath "$2")
secs=${3:-${COLO_FUZZ_SECONDS:-30}}
out=$bld/fuzz
mkdir -p "$out"

# target name, then the QEMU sources it links
targets=("link net/colo-proxy-link.c"
         "packet net/colo-proxy-packet.c net/colo-proxy-conn.c net/colo-proxy-seq.c net/colo-proxy-rewrite.c"
         "compare net/colo-proxy-compare.c net/colo-proxy-http.c net/colo-proxy-conn.c net/colo-proxy-packet.c"
         "http net/colo-proxy-http.c"
         "notify net/colo-proxy-link.c"
         "rewrite net/colo-proxy-rewrite.c net/colo-proxy-packet.c net/colo-proxy-conn.c net/colo-proxy-seq.c")

echo "1..${#targets[@]}"
n=0
for t in "${targets[@]}"; do
    n=$((n + 1))
    set -- $t
    name=$1
    shift
    srcs=()
    for f in "$@"; do srcs+=("$src/$f"); done
    bin=$out/$name-fuzz
    # shellcheck disable=SC2046
    if ! clang -g -O1 -fsanitize=fuzzer,address,undefined \
            -fno-sanitize-recover=undefined \
            -I "$bld" -I "$src/include" -I "$src" -I "$bld/qapi" \
            $(pkg-config --cflags glib-2.0) \
            "$top/project/fuzz/$name-fuzz.c" "${srcs[@]}" \
            $(pkg-config --libs glib-2.0) -o "$bin" 2> "$out/$name-build.log"; then
        echo "not ok $n - fuzz $name: build failed"
        sed 's/^/# /' "$out/$name-build.log" | tail -n 20
        continue
    fi
    corpus=$(mktemp -d)
    cp "$top/project/fuzz/corpus/$name"/* "$corpus/"
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 "$corpus" > "$out/$name.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log")
        echo "ok $n - fuzz $name: $runs executions in ${secs}s, no crash"
    else
        echo "not ok $n - fuzz $name: crash (log $out/$name.log)"
        grep -E "ERROR|SUMMARY|artifact" "$out/$name.log" | sed 's/^/# /' | head
    fi
    rm -rf "$corpus"
done
