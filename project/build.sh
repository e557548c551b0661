#!/usr/bin/env bash
# Configure (once) and build the patched QEMU: qemu-system-x86_64 and the
# test binaries the test command runs.  Incremental: ninja only rebuilds what
# the last lay changed.
#
# usage: project/build.sh SRC_TREE BUILD_DIR [extra ninja targets...]
set -euo pipefail
src=$(realpath "$1")
bld=$2
shift 2
mkdir -p "$bld"
bld=$(realpath "$bld")

if [ ! -e "$bld/build.ninja" ]; then
    (cd "$bld" && "$src/configure" --python=/usr/bin/python3 \
        --target-list=x86_64-softmmu --disable-docs --disable-install-blobs \
        --enable-slirp --enable-gnutls --disable-user --disable-tools \
        --disable-guest-agent --disable-werror \
        ${COLO_CONFIGURE_EXTRA:-})
fi

# Firmware for the qtests (qom-test starts every x86 machine type): the
# +ds tarball ships no blobs, Debian's seabios and ipxe-qemu do.
fw=$bld/qemu-bundle/usr/local/share/qemu
mkdir -p "$fw"
for d in /usr/share/seabios /usr/lib/ipxe/qemu /usr/share/qemu; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do
        [ -e "$fw/$(basename "$f")" ] || ln -s "$f" "$fw/$(basename "$f")"
    done
done

ninja -C "$bld" qemu-system-x86_64 "$@"
