#!/usr/bin/env bash
# Lay the series into the working QEMU tree: the pristine tree plus the new
# files this repo holds at their QEMU paths plus the edit patches, in series
# order.  Only files whose content changed are written, so ninja rebuilds
# only what an edit touched.
#
# usage: project/lay.sh PRISTINE_TREE WORK_TREE
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pristine=$1
work=$2

if [ ! -e "$work/.colo-laid-from" ]; then
    rm -rf "$work"
    mkdir -p "$(dirname "$work")"
    cp -a "$pristine" "$work"
    rm -rf "$work/.git"
    echo "$pristine" > "$work/.colo-laid-from"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# New files, listed by the series manifest (ported to the base).
"$top/project/series.py" stage "$stage"
# Edit patches, applied in series order on pristine copies.
for p in $("$top/project/series.py" patches); do
    for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$top/$p"); do
        if [ ! -e "$stage/$f" ]; then
            mkdir -p "$stage/$(dirname "$f")"
            cp "$pristine/$f" "$stage/$f"
        fi
    done
    patch -s -p1 -d "$stage" --no-backup-if-mismatch < "$top/$p"
done

# Files the previous lay wrote but this one does not: back to pristine.
if [ -e "$work/.colo-laid-files" ]; then
    (cd "$stage" && find . -type f | sed 's|^\./||' | sort) > "$stage.list"
    sort "$work/.colo-laid-files" | comm -23 - "$stage.list" | while read -r f; do
        if [ -e "$pristine/$f" ]; then
            cmp -s "$pristine/$f" "$work/$f" || cp "$pristine/$f" "$work/$f"
        else
            rm -f "$work/$f"
        fi
    done
    rm -f "$stage.list"
fi

changed=0
while read -r f; do
    if ! cmp -s "$stage/$f" "$work/$f"; then
        mkdir -p "$work/$(dirname "$f")"
        cp "$stage/$f" "$work/$f"
        changed=$((changed + 1))
    fi
done < <(cd "$stage" && find . -type f | sed 's|^\./||' | sort)
(cd "$stage" && find . -type f | sed 's|^\./||' | sort) > "$work/.colo-laid-files"
echo "lay: $changed file(s) updated in $work"
