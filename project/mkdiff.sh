#!/usr/bin/env bash
# Developer helper: write the edit patch of one series entry from the work
# tree.  The base is the pristine tree with every earlier entry's patch
# applied; the result is what the work tree holds now for FILES.
#
# usage: project/mkdiff.sh PRISTINE WORK patches/NN-slug.diff FILE...
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pristine=$1 work=$2 out=$3
shift 3
base=$(mktemp -d)
trap 'rm -rf "$base"' EXIT
for f in "$@"; do
    mkdir -p "$base/a/$(dirname "$f")" "$base/b/$(dirname "$f")"
    cp "$pristine/$f" "$base/a/$f"
    cp "$work/$f" "$base/b/$f"
done
# the commits before this one: those whose names sort before it
for p in $("$top/project/series.py" patches); do
    [[ "$(basename "$p")" < "$(basename "$out")" ]] || break
    (cd "$base/a" && patch -s -p1 --no-backup-if-mismatch -f < "$top/$p" \
        >/dev/null 2>&1 || true)
done
(cd "$base" && git diff --no-index --no-prefix -U3 a b |
    sed -e 's|^--- a/|--- a/|' -e 's|^diff --git a/\(.*\) b/\(.*\)|diff --git a/\1 b/\1|') \
    > "$out.tmp" || true
# git diff --no-index names files a/PATH and b/PATH under the temp dir.
sed -e 's|^diff --git a/a/\(.*\) b/b/.*|diff --git a/\1 b/\1|' \
    -e 's|^--- a/a/|--- a/|' -e 's|^+++ b/b/|+++ b/|' "$out.tmp" > "$out"
rm -f "$out.tmp"
echo "wrote $out"
