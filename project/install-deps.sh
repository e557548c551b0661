#!/usr/bin/env bash
# Install what colo-proxy needs on a Debian 12 machine: build dependencies of
# QEMU 10.0 (meson and pycotap from bookworm-backports), the source-package
# tooling, and the run-time firmware.  Idempotent; needs root for apt.
set -euo pipefail

stamp_dir=${COLO_CACHE:-/var/cache/colo-proxy}
mkdir -p "$stamp_dir"

sources=/etc/apt/sources.list.d/colo-proxy.sources
want=$(cat <<'SRC'
# Added by colo-proxy's project/install-deps.sh: bookworm-backports for
# meson >= 1.5 and pycotap; trixie sources (sources only) for QEMU 10.0.x,
# unstable's sources (sources only) for the newest QEMU, the second base.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: unstable
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
)

pkgs=(
    build-essential git pkg-config flex bison ninja-build python3-venv
    python3-pip libglib2.0-dev libpixman-1-dev zlib1g-dev libslirp-dev
    libfdt-dev libgnutls28-dev dpkg-dev rsync
    iproute2 ethtool busybox-static cpio seabios ipxe-qemu
    pacemaker corosync crmsh resource-agents pacemaker-cli-utils
    libxml2-utils
    clang libclang-rt-14-dev
)
bpo_pkgs=(meson python3-pycotap qemu-system-data)

need_update=0
if [ "$(cat "$sources" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" > "$sources"
    need_update=1
fi
if [ ! -e "$stamp_dir/apt-updated" ] || [ $need_update = 1 ]; then
    apt-get update -q
    touch "$stamp_dir/apt-updated"
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

meson_ok=0
if command -v meson >/dev/null &&
   dpkg --compare-versions "$(meson --version)" ge 1.5; then
    meson_ok=1
fi
if [ $meson_ok = 0 ] || ! /usr/bin/python3 -c 'import pycotap' 2>/dev/null ||
   [ ! -e /usr/share/qemu/linuxboot_dma.bin ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -t bookworm-backports "${bpo_pkgs[@]}"
fi
echo "install-deps: ok (meson $(meson --version))"
