#!/usr/bin/env bash
# Real servers from Debian 12's packages into the guest's root ROOT, with
# the libraries ldd lists: lighttpd (extracted from its .deb, never
# installed on the host), iperf3 and redis-server (redis-tools'
# redis-check-rdb is the server binary; Debian's redis-server is a
# symlink to it).  Installs the clients on the host: wrk, iperf3,
# redis-tools (redis-benchmark).
#
# usage: add-servers.sh ROOT CACHE WORK
set -euo pipefail
root=$1 cache=$2 work=$3

tools=(wrk iperf3 redis-tools)
missing=()
for p in "${tools[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi
(cd "$cache" && ls lighttpd_*.deb >/dev/null 2>&1 ||
    apt-get download -q lighttpd >&2 2>/dev/null)
dpkg-deb -x "$(ls "$cache"/lighttpd_*.deb | head -n 1)" "$work/lighttpd"

mkdir -p "$root/etc"
# mod_setenv is built into Debian 12's lighttpd: no module to copy
cp "$work/lighttpd/usr/sbin/lighttpd" "$root/bin/lighttpd"
cp /usr/bin/iperf3 "$root/bin/iperf3"
cp "$(readlink -f /usr/bin/redis-check-rdb)" "$root/bin/redis-server"
# the libraries, at the paths the dynamic loader looks in
for bin in "$root/bin/lighttpd" "$root/bin/iperf3" "$root/bin/redis-server"; do
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
done
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
cat > "$root/etc/lighttpd.conf" <<'CONF'
server.document-root = "/www"
server.port = 81
server.modules = ( "mod_setenv" )
server.errorlog = "/tmp/lighttpd.log"
server.max-keep-alive-requests = 100000
mimetype.assign = ( ".html" => "text/html", "" => "application/octet-stream" )
# the same pages with a constant Date: the two guests' clocks never show
$SERVER["socket"] == ":82" {
    setenv.set-response-header = ( "Date" => "Thu, 01 Jan 2026 00:00:00 GMT" )
}
CONF
