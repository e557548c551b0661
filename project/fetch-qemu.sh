#!/usr/bin/env bash
# Fetch QEMU from Debian's "qemu" source package, unpack it with Debian's
# patches applied, and keep both the download and the unpacked pristine
# tree cached outside the checkout.  Prints the pristine tree's path.  The
# pristine tree is a git repository with one commit, the base the series is
# exported against.
#
# The base is a QEMU release series, $COLO_QEMU_BASE: 10.0 (the default,
# Debian 13's QEMU) or a newer one that Debian's sources offer (10.2 from
# unstable).  The newest source package of that series that the archive
# serves is used.
set -euo pipefail

cache=${COLO_CACHE:-/var/cache/colo-proxy}
base=${COLO_QEMU_BASE:-10.0}
dl=$cache/download
mkdir -p "$dl"

case "$base" in
    [0-9]*.[0-9]*) ;;
    *) echo "fetch-qemu: COLO_QEMU_BASE=$base is not a release series (10.0)" >&2
       exit 1 ;;
esac
re="^1:${base//./\\.}\\.[0-9]+"
versions=$(apt-cache showsrc qemu | awk '/^Version:/ {print $2}' |
           grep -E "$re" | sort -Vr | uniq || true)
if [ -z "$versions" ]; then
    echo "fetch-qemu: no QEMU $base.x source package; run project/install-deps.sh" >&2
    exit 1
fi

# The newest version already unpacked, else the newest the archive serves
# (its index may list versions whose files are gone).
for version in $versions; do
    upstream=${version#1:}
    upstream=${upstream%%+*}
    pristine=$cache/qemu-$upstream
    if [ -e "$pristine/.colo-pristine-ok" ]; then
        echo "$pristine"
        exit 0
    fi
done
dsc=
for version in $versions; do
    dsc=$dl/qemu_${version#1:}.dsc
    [ -e "$dsc" ] && break
    if (cd "$dl" && apt-get source --download-only -q "qemu=$version" >&2); then
        break
    fi
    echo "fetch-qemu: qemu $version cannot be downloaded, trying an older one" >&2
    dsc=
done
if [ -z "$dsc" ]; then
    echo "fetch-qemu: no QEMU $base.x source package could be downloaded" >&2
    exit 1
fi
upstream=${version#1:}
upstream=${upstream%%+*}
pristine=$cache/qemu-$upstream
rm -rf "$pristine.tmp"
dpkg-source --no-check -x "$dsc" "$pristine.tmp" >&2

# Check we really hold the series asked for before anything is built on it.
case "$(cat "$pristine.tmp/VERSION")" in
    "$base".*) ;;
    *) echo "fetch-qemu: $(cat "$pristine.tmp/VERSION") is not QEMU $base.x" >&2
       exit 1 ;;
esac

git -C "$pristine.tmp" init -q
git -C "$pristine.tmp" add -A -f .
git -C "$pristine.tmp" -c user.name=colo-proxy -c user.email=colo-proxy@invalid \
    commit -q -m "QEMU $upstream (Debian $version)"
touch "$pristine.tmp/.colo-pristine-ok"
rm -rf "$pristine"
mv "$pristine.tmp" "$pristine"
echo "$pristine"
