#!/usr/bin/env bash
# Export the series against the pristine tree and check every patch with
# QEMU's scripts/checkpatch.pl.  Prints TAP.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pristine=$("$top/project/fetch-qemu.sh")
out=${COLO_BUILD:-$top/build}/series
"$top/project/series.py" export "$pristine" "$out" > /dev/null

patches=("$out"/0*.patch)
echo "1..$(( ${#patches[@]} ))"
n=0
for p in "${patches[@]}"; do
    n=$((n + 1))
    name=$(basename "$p")
    case "$name" in
    0000-cover-letter.patch)
        if grep -q '\*\*\*' "$p"; then
            echo "not ok $n - $name has placeholders left"
        else
            echo "ok $n - $name"
        fi
        continue ;;
    esac
    if log=$(cd "$pristine" && perl scripts/checkpatch.pl --no-tree "$p" 2>&1); then
        echo "ok $n - checkpatch $name"
    else
        echo "not ok $n - checkpatch $name"
        printf '%s\n' "$log" | sed 's/^/# /'
    fi
done
