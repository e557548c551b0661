#!/usr/bin/env bash
# Build every commit of the exported series in order (bisectability), in a
# build directory of its own so the main build stays warm, and run the
# unit tests and colo-proxy's qtests that commit has.  Prints TAP.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pristine=$("$top/project/fetch-qemu.sh")
build=${COLO_BUILD:-$top/build}
"$top/project/series.py" export "$pristine" "$build/series" > /dev/null
tree=$build/series.git-tree
src=$build/bisect-src
bld=$build/bisect

commits=$(git -C "$tree" rev-list --reverse origin/HEAD..HEAD)
echo "1..$(( $(echo "$commits" | wc -l) * 2 ))"
# The clone is kept between runs: a checkout rewrites only the files that
# differ, so the build directory stays warm.
if [ -d "$src/.git" ]; then
    git -C "$src" fetch -q "$tree" HEAD
else
    git clone -q "$tree" "$src"
fi
n=0
failed=0
for c in $commits; do
    git -C "$src" checkout -q -f "$c"
    subject=$(git -C "$src" log -1 --format=%s)
    # the emulator, and every colo-proxy test this commit has
    tests=$(cd "$src" && { ls tests/unit/test-colo-proxy-*.c \
            tests/qtest/colo-proxy-test.c 2>/dev/null || true; } |
            sed 's/\.c$//')
    n=$((n + 1))
    # shellcheck disable=SC2086
    if log=$("$top/project/build.sh" "$src" "$bld" $tests 2>&1); then
        echo "ok $n - builds: $subject"
    else
        echo "not ok $n - builds: $subject"
        printf '%s\n' "$log" | tail -n 30 | sed 's/^/# /'
        failed=1
        n=$((n + 1))
        echo "not ok $n - tests: $subject # not built"
        continue
    fi
    n=$((n + 1))
    names=$(for t in $tests; do basename "$t"; done)
    if [ -z "$names" ]; then
        echo "ok $n - tests: $subject # SKIP no colo-proxy test yet"
    # shellcheck disable=SC2086
    elif log=$("$top/project/run-tests.py" "$bld" $names 2>&1); then
        echo "ok $n - tests: $subject ($(echo "$log" | tail -n 1))"
    else
        echo "not ok $n - tests: $subject"
        printf '%s\n' "$log" | grep -E 'not ok|passed,' | sed 's/^/# /'
        failed=1
    fi
done
exit $failed
