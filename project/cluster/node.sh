#!/bin/sh
# One cluster "node" of the test cluster: run inside its own network
# namespace as "unshare --mount --uts --propagation private node.sh DIR
# NAME LAYER".  Gives corosync and Pacemaker their own /run, /dev/shm,
# /etc/corosync, /var/lib/{corosync,pacemaker} and /var/log (under DIR),
# lays LAYER over /usr (the fence agent and the OCF agent under test),
# then runs corosync and pacemakerd until either ends.
set -eu
dir=$1 name=$2 layer=$3

hostname "$name"
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
for d in etc/corosync var/lib/corosync var/lib/pacemaker var/log; do
    mkdir -p "$dir/$d"
done
for d in cib pengine blackbox cores; do
    mkdir -p "$dir/var/lib/pacemaker/$d"
done
mkdir -p "$dir/var/log/pacemaker" "$dir/var/log/corosync" "$dir/var/log/crmsh"
chown -R hacluster:haclient "$dir/var/lib/pacemaker" "$dir/var/log/pacemaker"
chmod 0750 "$dir/var/lib/pacemaker/cib"
mount --bind "$dir/etc/corosync" /etc/corosync
mount --bind "$dir/var/lib/corosync" /var/lib/corosync
mount --bind "$dir/var/lib/pacemaker" /var/lib/pacemaker
mount --bind "$dir/var/log" /var/log
mount -t overlay overlay -o "lowerdir=$layer/sbin:/usr/sbin" /usr/sbin
mount -t overlay overlay \
    -o "lowerdir=$layer/ocf:/usr/lib/ocf/resource.d" /usr/lib/ocf/resource.d

corosync -f >"$dir/var/log/corosync/stdout" 2>&1 &
echo $! >"$dir/corosync.pid"
n=0
until corosync-cfgtool -s >/dev/null 2>&1; do
    n=$((n + 1))
    [ $n -lt 300 ] || { echo "corosync did not start" >&2; exit 1; }
    kill -0 "$(cat "$dir/corosync.pid")" || exit 1
    sleep 0.1
done
pacemakerd -f >"$dir/var/log/pacemaker/stdout" 2>&1 &
echo $! >"$dir/pacemakerd.pid"
wait
