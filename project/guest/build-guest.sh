#!/usr/bin/env bash
# Build the small guest of the end-to-end test and the demo from Debian's
# packages: Debian 12's kernel and an initramfs of busybox-static with an
# init that brings up e1000 or virtio-net (IPv6 on) as 10.0.0.2/24 and serves
#   - HTTP on :80 (busybox httpd): /index.html (1 KB), /64k.bin (64 KiB),
#     /cgi-bin/rand (a random number: deliberately non-deterministic);
#   - a TCP echo service on :7;
#   - the same 64 KiB with no HTTP header on :8080 (no Date: header that
#     may differ between the two guests across a second boundary).
# With "servers", real servers from Debian's packages too, for the
# measurements (colo_e2e.py --measure): lighttpd on :81 (with its Date
# header) and :82 (a constant Date), iperf3 on :5201, redis-server on
# :6379; their clients (wrk, iperf3, redis-benchmark) are installed on the
# host.  Prints the directory holding vmlinuz and initrd.img.  Cached.
#
# usage: build-guest.sh [servers]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${COLO_CACHE:-/var/cache/colo-proxy}/guest
servers=${1:-}
mkdir -p "$cache"

kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "build-guest: no Debian kernel package" >&2; exit 1; }
out=$cache/$kpkg${servers:+-servers}
if [ -e "$out/initrd.img" ] && [ "$out/initrd.img" -nt "$top/project/guest/init" ] &&
   [ "$out/initrd.img" -nt "$0" ]; then
    echo "$out"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$cache" && ls "$kpkg"_*.deb >/dev/null 2>&1 ||
    apt-get download -q "$kpkg" >&2)
dpkg-deb -x "$(ls "$cache/$kpkg"_*.deb | head -n 1)" "$work/k"
mkdir -p "$out"
cp "$work"/k/boot/vmlinuz-* "$out/vmlinuz"

root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,www/cgi-bin,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for app in $("$root/bin/busybox" --list); do
    [ "$app" = busybox ] || ln -sf busybox "$root/bin/$app"
done
for m in e1000 virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
         virtio_pci failover net_failover virtio_net; do
    f=$(find "$work/k/lib/modules" -name "$m.ko" | head -n 1)
    [ -n "$f" ] || { echo "build-guest: no $m.ko in $kpkg" >&2; exit 1; }
    cp "$f" "$root/lib/modules/$m.ko"
done
cp "$top/project/guest/init" "$root/init"
chmod +x "$root/init"
# 1 KB page, 64 KiB file: deterministic content
head -c 1024 /dev/zero | tr '\0' 'x' > "$root/www/index.html"
{ seq 1 20000 || true; } | head -c 65536 > "$root/www/64k.bin"
cat > "$root/www/cgi-bin/rand" <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
# urandom alone may give both guests the same bytes until the kernel
# reseeds after a checkpoint: the nanosecond clock always differs
head -c 8 /dev/urandom | od -An -tu8 | tr -d ' '
grep -m 1 'now at' /proc/timer_list 2>/dev/null || cat /proc/uptime
CGI
chmod +x "$root/www/cgi-bin/rand"
if [ -n "$servers" ]; then
    "$top/project/guest/add-servers.sh" "$root" "$cache" "$work"
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.img"
echo "$out"
