#!/usr/bin/env bash
# Fetch QEMU 10.0.x from Debian's "qemu" source package (bookworm-backports),
# unpack it with Debian's patches applied, and keep both the download and the
# unpacked pristine tree cached outside the checkout.  Prints the pristine
# tree's path.  The pristine tree is a git repository with one commit, the
# base the series is exported against.
set -euo pipefail

cache=${COLO_CACHE:-/var/cache/colo-proxy}
dl=$cache/download
mkdir -p "$dl"

version=$(apt-cache showsrc qemu | awk '/^Version:/ {print $2}' |
          grep -E '^1:10\.0\.[0-9]+' | sort -V | tail -n 1 || true)
if [ -z "$version" ]; then
    echo "fetch-qemu: no QEMU 10.0.x source package; run project/install-deps.sh" >&2
    exit 1
fi
upstream=${version#1:}
upstream=${upstream%%+*}
pristine=$cache/qemu-$upstream
if [ -e "$pristine/.colo-pristine-ok" ]; then
    echo "$pristine"
    exit 0
fi

dsc=$dl/qemu_${version#1:}.dsc
if [ ! -e "$dsc" ]; then
    (cd "$dl" && apt-get source --download-only -q "qemu=$version" >&2)
fi
rm -rf "$pristine.tmp"
dpkg-source --no-check -x "$dsc" "$pristine.tmp" >&2

# Check we really hold the 10.0 series before anything is built on it.
case "$(cat "$pristine.tmp/VERSION")" in
    10.0.*) ;;
    *) echo "fetch-qemu: $(cat "$pristine.tmp/VERSION") is not QEMU 10.0.x" >&2
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
