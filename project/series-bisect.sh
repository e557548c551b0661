#!/usr/bin/env bash
# Build every commit of the exported series in order (bisectability), in a
# build directory of its own so the main build stays warm.  Prints TAP.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pristine=$("$top/project/fetch-qemu.sh")
"$top/project/series.py" export "$pristine" "$top/build/series" > /dev/null
tree=$top/build/series.git-tree
src=$top/build/bisect-src
bld=$top/build/bisect

commits=$(git -C "$tree" rev-list --reverse origin/HEAD..HEAD)
echo "1..$(echo "$commits" | wc -l)"
rm -rf "$src"
git clone -q "$tree" "$src"
n=0
for c in $commits; do
    n=$((n + 1))
    git -C "$src" checkout -q "$c"
    subject=$(git -C "$src" log -1 --format=%s)
    # the emulator, and every colo-proxy test this commit has
    targets=$(cd "$src" && { ls tests/unit/test-colo-proxy-*.c \
              tests/qtest/colo-proxy-test.c 2>/dev/null || true; } |
              sed 's/\.c$//')
    # shellcheck disable=SC2086
    if log=$("$top/project/build.sh" "$src" "$bld" $targets 2>&1); then
        echo "ok $n - builds: $subject"
    else
        echo "not ok $n - builds: $subject"
        printf '%s\n' "$log" | tail -n 30 | sed 's/^/# /'
    fi
done
