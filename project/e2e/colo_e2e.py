#!/usr/bin/python3
"""End-to-end test (and demo) of colo-proxy: real COLO, a real guest.

Two QEMUs (TCG) run a diskless COLO pair of a small Linux guest
(project/guest) whose only networking is colo-proxy, added at run time
with object-add (or on the command line with --cmdline).  Everything lives
in network namespaces this script creates and removes:

  client ns:  veth 10.0.0.1/24 --+
  host ns:    br-ext: veth peer, primary's tap     (the "external network")
              br-sec: secondary's tap              (isolated during COLO)
              loopback: COLO migration and the colo-proxy link
  guest:      10.0.0.2/24, HTTP :80 (/index.html, /64k.bin, /cgi-bin/rand),
              TCP echo :7

Scenarios: "secondary-lost" (the primary goes on alone), "primary-lost"
(SIGKILL the primary, fail over to the secondary), "reprotect" (the
secondary is lost, a new one protects the primary again, then the primary
is lost) and "reprotect-primary" (the primary is lost, the survivor's
colo-proxy is promoted and a new secondary protects it, then the promoted
primary is lost).  A new secondary gets its first copy from a stopped
primary: a live copy of a running guest into COLO corrupted the new
secondary's guest in about half the runs (QEMU's COLO migration under
TCG, see docs/colo-proxy.txt).  The guest's NIC is e1000 or virtio-net (vnet header, the
guest's default offloads); IPv6 is on in the guest; colo-proxy runs with
its documented defaults.  Each checks that requests are answered
correctly, that a non-deterministic response causes a checkpoint request,
that checkpoints happen while the guest serves, that a live TCP
connection and new connections survive every failure with no byte lost
or duplicated, and that a byte stream running across the failovers comes
back whole (sha256).  Prints TAP, and the checkpoint requests by reason.

usage: colo_e2e.py BUILD_DIR [--demo] [--cmdline] [--scenario NAME]
                   [--nic e1000|virtio]
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "project"))
from qmp import QMP  # noqa: E402

GUEST_IP = "10.0.0.2"
CLIENT_IP = "10.0.0.1"
MAC = "52:54:00:12:34:56"
# bounds on waiting for things that must happen (guards, not timing)
BOOT_S = 300
STEP_S = 120
MEASURE = False
# --proxy-option KEY=VALUE: properties of both colo-proxy objects
PROXY_OPTIONS = {}
WORKLOADS = None
CHECKPOINT_DELAY = None         # --checkpoint-delay MS



def psk_dir(run):
    """A directory with the pair's pre-shared key (user "qemu"), 0700."""
    path = os.path.join(run, "psk")
    if not os.path.exists(os.path.join(path, "keys.psk")):
        os.makedirs(path, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(path, "keys.psk"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("qemu:%s\n" % os.urandom(32).hex())
    return path

class Fail(Exception):
    pass


def sh(*args, ns=None, check=True):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True).stdout


def host_and_client(h, c, bridges):
    """
    Namespaces @h (the hosts' side, with @bridges, the first of them the
    external network) and @c (the client, CLIENT_IP on a veth into it).
    """
    sh("ip", "netns", "add", h)
    sh("ip", "netns", "add", c)
    sh("ip", "link", "set", "lo", "up", ns=h)
    sh("ip", "link", "set", "lo", "up", ns=c)
    for br in bridges:
        sh("ip", "link", "add", br, "type", "bridge", ns=h)
        sh("ip", "link", "set", br, "up", ns=h)
    sh("ip", "link", "add", "veth-h", "netns", h, "type", "veth",
       "peer", "name", "veth-c", "netns", c)
    sh("ip", "link", "set", "veth-h", "master", bridges[0], "up", ns=h)
    # partial checksums from a virtio guest are completed in software
    # on the way to the client, which then verifies every one
    sh("ethtool", "-K", "veth-h", "tx", "off", ns=h)
    sh("ip", "addr", "add", CLIENT_IP + "/24", "dev", "veth-c", ns=c)
    sh("ip", "link", "set", "veth-c", "up", ns=c)


class Net:
    """The namespaces, bridges, taps and veth of one run."""

    def __init__(self):
        tag = str(os.getpid())
        self.host = "colo-h" + tag
        self.client = "colo-c" + tag
        self.tap_p, self.tap_s = "tapp" + tag, "taps" + tag

    def up(self):
        h = self.host
        host_and_client(h, self.client, ("br-ext", "br-sec"))
        for tap, br in ((self.tap_p, "br-ext"), (self.tap_s, "br-sec")):
            sh("ip", "tuntap", "add", tap, "mode", "tap", ns=h)
            sh("ip", "link", "set", tap, "master", br, "up", ns=h)

    def to_ext(self, tap):
        """@tap takes the place of the others on the external network."""
        for other in (self.tap_p, self.tap_s):
            if other != tap:
                sh("ip", "link", "set", other, "nomaster", ns=self.host)
        sh("ip", "link", "set", tap, "master", "br-ext", ns=self.host)

    def to_sec(self, tap):
        """@tap on the secondary's own bridge."""
        sh("ip", "link", "set", tap, "master", "br-sec", ns=self.host)

    def down(self):
        for ns in (self.host, self.client):
            sh("ip", "netns", "del", ns, check=False)


class Vm:
    def __init__(self, name, build, net, run, guest, secondary, cmdline,
                 chain="proxy", nic="e1000", tap=None):
        self.name = name
        self.trace = os.path.join(run, name + ".trace")
        self.qmp_path = os.path.join(run, name + ".qmp")
        self.serial = os.path.join(run, name + ".serial")
        self.log = os.path.join(run, name + ".log")
        tap = tap or (net.tap_s if secondary else net.tap_p)
        virtio = nic == "virtio"
        args = [os.path.join(build, "qemu-system-x86_64"),
                "-L", "/usr/share/qemu", "-L", "/usr/share/seabios",
                "-L", "/usr/lib/ipxe/qemu",
                "-M", "pc", "-accel", "tcg", "-m", "256", "-nodefaults",
                "-display", "none", "-no-reboot",
                "-kernel", os.path.join(guest, "vmlinuz"),
                "-initrd", os.path.join(guest, "initrd.img"),
                "-append", "console=ttyS0 quiet panic=-1",
                "-serial", "file:" + self.serial,
                "-netdev", "tap,id=hn0,ifname=%s,script=no,downscript=no,"
                "vhost=off,vnet_hdr=%s" % (tap, "on" if virtio else "off"),
                # virtio-net with the guest's default offloads (TSO, GSO,
                # partial checksums); e1000 has no vnet header
                "-device", "%s,netdev=hn0,mac=%s" % (
                    "virtio-net-pci" if virtio else "e1000", MAC),
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                # the last -trace's file= is the one QEMU keeps
                "-trace", "enable=colo_send_message",
                "-trace", "enable=colo_proxy_checkpoint_request",
                "-trace", "enable=colo_proxy_cmp_date_equal",
                "-trace", "enable=colo_proxy_ingress_hold",
                "-trace", "enable=colo_proxy_link_close",
                "-trace", "enable=colo_vm_state_change,file=" + self.trace,
                "-msg", "timestamp=on"]
        # the link over TCP, protected as the docs say: TLS with a
        # pre-shared key; both endpoints, for a survivor that is promoted
        psk = psk_dir(run)
        args += ["-object", "tls-creds-psk,id=tls-srv,endpoint=server,"
                 "dir=" + psk,
                 "-object", "tls-creds-psk,id=tls-cli,endpoint=client,"
                 "dir=%s,username=qemu" % psk]
        # the documented defaults, but for the vnet header virtio needs
        self.proxy = {"qom-type": "colo-proxy", "id": "cp0", "netdev": "hn0",
                      "mode": "secondary" if secondary else "primary",
                      "addr": "127.0.0.1:9003",
                      "tls-creds": "tls-srv" if secondary else "tls-cli"}
        if virtio:
            self.proxy["vnet-hdr-support"] = True
        self.proxy.update(PROXY_OPTIONS)
        if chain == "upstream":
            args += upstream_chain(secondary)
            cmdline = True
        elif chain == "plain":
            cmdline = True
        elif cmdline:
            args += ["-object", "colo-proxy," + ",".join(
                "%s=%s" % (k, "on" if v is True else v)
                for k, v in self.proxy.items() if k != "qom-type")]
        if secondary:
            args += ["-incoming", "tcp:127.0.0.1:9998"]
        elif chain != "plain":
            args += ["-S"]
        self.cmdline = cmdline
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", net.host] + args,
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.qmp_path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Fail("%s QEMU did not start, see %s" % (name, self.log))
            time.sleep(0.05)
        self.qmp = QMP(self.qmp_path, timeout=STEP_S)

    def add_proxy(self):
        if not self.cmdline:
            self.qmp.cmd("object-add", **self.proxy)

    def info(self):
        return self.qmp.cmd("query-colo-proxy")[0]

    def stats(self):
        return self.info()["stats"]

    def virtio_queues(self):
        """For a diagnosis: the virtio-net device's state and its rx and
        tx queues' indices (nothing for e1000)."""
        out = {}
        for dev in self.qmp.cmd("x-query-virtio"):
            if dev["name"] != "virtio-net":
                continue
            st = self.qmp.cmd("x-query-virtio-status", path=dev["path"])
            out["status"] = {k: st.get(k) for k in
                             ("broken", "disabled", "vm-running", "started",
                              "start-on-kick", "status", "queue-pairs")}
            for q in (0, 1):
                out["queue%d" % q] = self.qmp.cmd(
                    "x-query-virtio-queue-status", path=dev["path"],
                    queue=q)
                try:
                    # the rings in guest memory: avail idx, used flags
                    el = self.qmp.cmd("x-query-virtio-queue-element",
                                      path=dev["path"], queue=q)
                    out["ring%d" % q] = {"avail": el["avail"],
                                         "used": el["used"]}
                except Exception as err:
                    out["ring%d" % q] = str(err)
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.qmp.cmd("quit")
            except Exception:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def upstream_chain(secondary):
    """Upstream's filter chain as docs/COLO-FT.txt wires it, on loopback."""
    if secondary:
        return ["-chardev", "socket,id=red0,host=127.0.0.1,port=9003,"
                "reconnect-ms=1000",
                "-chardev", "socket,id=red1,host=127.0.0.1,port=9004,"
                "reconnect-ms=1000",
                "-object", "filter-redirector,id=f1,netdev=hn0,queue=tx,"
                "indev=red0",
                "-object", "filter-redirector,id=f2,netdev=hn0,queue=rx,"
                "outdev=red1",
                "-object", "filter-rewriter,id=rew0,netdev=hn0,queue=all"]
    srv = "server=on,wait=off"
    return ["-chardev", "socket,id=mirror0,host=127.0.0.1,port=9003," + srv,
            "-chardev", "socket,id=compare1,host=127.0.0.1,port=9004," + srv,
            "-chardev", "socket,id=compare0,host=127.0.0.1,port=9001," + srv,
            "-chardev", "socket,id=compare0-0,host=127.0.0.1,port=9001",
            "-chardev", "socket,id=compare_out,host=127.0.0.1,port=9005,"
            + srv,
            "-chardev", "socket,id=compare_out0,host=127.0.0.1,port=9005",
            "-object", "iothread,id=iothread1",
            "-object", "filter-mirror,id=m0,netdev=hn0,queue=tx,"
            "outdev=mirror0",
            "-object", "filter-redirector,netdev=hn0,id=redire0,queue=rx,"
            "indev=compare_out",
            "-object", "filter-redirector,netdev=hn0,id=redire1,queue=rx,"
            "outdev=compare0",
            "-object", "colo-compare,id=comp0,primary_in=compare0-0,"
            "secondary_in=compare1,outdev=compare_out0,iothread=iothread1"]


def checkpoints(vm):
    """Checkpoints the primary's COLO thread made (from its trace)."""
    try:
        with open(vm.trace, errors="replace") as f:
            return sum("'checkpoint-request'" in line for line in f)
    except OSError:
        return 0


def wait_for(what, fn, limit=STEP_S):
    deadline = time.monotonic() + limit
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Fail("gave up waiting for " + what)
        time.sleep(0.2)


# ---- the client side, run inside the client namespace ----



def client(net, *args):
    """project/e2e/client.py in the client namespace."""
    return subprocess.Popen(
        ["ip", "netns", "exec", net.client, "/usr/bin/python3",
         os.path.join(TOP, "project/e2e/client.py"), GUEST_IP] + list(args),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


class Client:
    """HTTP requests from the client namespace, one per line."""

    def __init__(self, net):
        self.proc = client(net, "requests")

    def get(self, path):
        self.proc.stdin.write(json.dumps({"path": path}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()




class Echo:
    """One long-lived TCP connection to the guest's echo service."""

    def __init__(self, net):
        self.proc = client(net, "echo")
        self.n = 0

    def roundtrip(self):
        self.n += 1
        self.proc.stdin.write("line %06d of the live connection\n" % self.n)
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


# ---- one scenario ----

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        self.n += 1
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, what,
                                ("  # " + detail) if detail else ""),
              flush=True)
        if not ok:
            self.failed += 1
        return ok


def start_colo(pri, sec, chain="proxy", paused=False):
    """
    COLO from @pri to the (new) secondary @sec, once the link is up.
    @paused: stop @pri for the first copy (COLO's start runs it again).
    """
    if chain == "proxy":
        wait_for("the colo-proxy link", lambda: pri.info()["link"] == "up")
        print("# colo-proxy link up: %s over TCP, TLS with a pre-shared key "
              "(tls-creds %s)" % (pri.proxy["addr"], pri.proxy["tls-creds"]),
              flush=True)
    caps = [{"capability": "x-colo", "state": True}]
    sec.qmp.cmd("migrate-set-capabilities", capabilities=caps)
    pri.qmp.cmd("migrate-set-capabilities", capabilities=caps)
    pri.qmp.cmd("migrate-set-parameters",
                **{"x-checkpoint-delay": CHECKPOINT_DELAY or (
                    20000 if chain != "proxy" or MEASURE else 3000)})
    if paused:
        pri.qmp.cmd("stop")
    pri.qmp.cmd("migrate", uri="tcp:127.0.0.1:9998")
    wait_for("COLO", lambda: pri.qmp.cmd("query-colo-status")["mode"] ==
             "primary")


def start_pair(build, net, run, guest, cmdline, chain="proxy", nic="e1000"):
    if chain == "upstream":
        # upstream's primary serves the chardevs the secondary connects to
        pri = Vm("primary", build, net, run, guest, False, cmdline, chain)
        sec = Vm("secondary", build, net, run, guest, True, cmdline, chain)
    else:
        sec = Vm("secondary", build, net, run, guest, True, cmdline, chain,
                 nic)
        pri = Vm("primary", build, net, run, guest, False, cmdline, chain,
                 nic)
        sec.add_proxy()
        pri.add_proxy()
    start_colo(pri, sec, chain)
    wait_for("the guest", lambda: "colo-guest: ready" in
             open(pri.serial, errors="replace").read(), BOOT_S)
    return pri, sec


def serve(t, client, label, n=5):
    ok = 0
    for i in range(n):
        for path, size in (("/index.html", 1024), ("/64k.bin", 65536)):
            r = client.get(path)
            ok += r["status"] == "200" and r["len"] == size
    t.check(ok == 2 * n, "%s: %d static requests answered correctly" %
            (label, 2 * n), "%d ok" % ok)


def live_figures(client, pri, seconds=20):
    """The demo: client load for a while, figures once a second."""
    print("# client load for %d s; once a second: requests/s, link, "
          "checkpoints, checkpoint requests by reason, frames compared and "
          "released by the primary's colo-proxy" % seconds, flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0, n = time.monotonic(), 0
        while time.monotonic() - t0 < 1:
            client.get("/index.html" if n % 4 else "/cgi-bin/rand")
            n += 1
        info = pri.info()
        st = info["stats"]
        reasons = ",".join("%s=%d" % (k, v) for k, v in
                           st["checkpoint-requests"].items() if v)
        print("#   %5.1f req/s  link %-4s  checkpoints %3d  requests [%s]  "
              "compared %d  released %d" % (n / (time.monotonic() - t0),
                                             info["link"], st["checkpoints"],
                                             reasons or "none",
                                             st["compared"], st["released"]),
              flush=True)


class Stream:
    """A verified byte stream through the echo service, until closed."""

    def __init__(self, net):
        self.proc = client(net, "stream")

    def close(self):
        out = self.proc.communicate("")[0]
        return json.loads(out)


def reasons(vm):
    """Checkpoint requests of @vm's colo-proxy by reason (non-zero)."""
    try:
        return {k: v for k, v in vm.stats()["checkpoint-requests"].items()
                if v}
    except Exception:
        return {}


def delta(after, before):
    return {k: v - before.get(k, 0) for k, v in after.items()
            if v - before.get(k, 0)}


def fail_over(t, name, lost, survivor, net, echo, tap=None):
    """
    Kill @lost; the survivor takes over (a secondary's @tap onto the
    external network); the live connection goes on.
    """
    t_kill = time.monotonic()
    lost.kill()
    if survivor.info()["mode"] == "secondary":
        survivor.qmp.cmd("x-colo-lost-heartbeat")
        net.to_ext(tap or net.tap_s)
    else:
        wait_for("the link down", lambda: survivor.info()["link"] != "up")
        survivor.qmp.cmd("x-colo-lost-heartbeat")
    e = echo.roundtrip()
    t.check(e == "ok", "%s: the live TCP connection survives" % name,
            "disruption %.2f s from the kill to the first answer" %
            (time.monotonic() - t_kill))
    e = [echo.roundtrip() for _ in range(5)]
    t.check(e == ["ok"] * 5, "%s: no byte lost or duplicated after" % name,
            str(e))
    t.check(survivor.info()["failover"], "%s: the survivor's colo-proxy "
            "is in failover" % name)


def reprotect(t, label, vms, where, nic, pri, client, echo, tap=None):
    """
    A new secondary (on @tap) protects @pri, the survivor, again: COLO
    from it, checkpoints, service and the live connection under the pair.
    """
    build, net, run, guest, cmdline = where
    sec2 = Vm("secondary2", build, net, run, guest, True, cmdline, nic=nic,
              tap=tap)
    vms.append(sec2)
    sec2.add_proxy()
    n = pri.stats()["checkpoints"]
    start_colo(pri, sec2, paused=True)
    wait_for("checkpoints of the new pair",
             lambda: pri.stats()["checkpoints"] >= n + 2)
    t.check(pri.info()["mode"] == "primary" and not pri.info()["failover"],
            "%s: the survivor is protected again by a new secondary" % label)
    serve(t, client, label + " re-protected", 2)
    e = [echo.roundtrip() for _ in range(3)]
    t.check(e == ["ok"] * 3, "%s: the live connection under the new pair" %
            label, str(e))
    return sec2


def first_checks(t, name, pri, sec, client, echo):
    serve(t, client, name)
    e = [echo.roundtrip() for _ in range(5)]
    t.check(e == ["ok"] * 5, "%s: echo round trips" % name, str(e))
    # /dev/urandom gives both guests the same bytes until the kernel
    # reseeds after a checkpoint: ask until a difference shows, boundedly
    before = after = sum(pri.stats()["checkpoint-requests"].values())
    r = []
    while after == before and len(r) < 30:
        r.append(client.get("/cgi-bin/rand"))
        after = sum(pri.stats()["checkpoint-requests"].values())
    t.check(all(x["status"] == "200" and x["len"] > 0 for x in r),
            "%s: non-deterministic responses answered" % name)
    if not t.check(after > before, "%s: they caused checkpoint requests" %
                   name, "%d -> %d after %d requests" %
                   (before, after, len(r))):
        diagnose(pri, sec)


def diagnose(*vms):
    """Which side went quiet: the counters of the colo-proxies of @vms
    and their virtio-net queues."""
    for vm in vms:
        print("# %s: %s" % (vm.name, json.dumps(vm.info())), flush=True)
        print("# %s virtio-net: %s" % (vm.name,
                                       json.dumps(vm.virtio_queues())),
              flush=True)


def scenario(build, guest, run, name, cmdline, demo, nic):
    """
    primary-lost, secondary-lost: one failover.  reprotect: the secondary
    is lost, a new one protects the primary again, then the primary is
    lost; a stream verified byte for byte runs across both failovers.
    """
    t = Tap()
    net = Net()
    vms = []
    label = "%s/%s" % (name, nic)
    try:
        net.up()
        pri, sec = start_pair(build, net, run, guest, cmdline, nic=nic)
        vms = [pri, sec]
        t.check(True, "%s: guest booted under COLO" % label)
        boot = reasons(pri)
        print("# %s: checkpoint requests at boot (IPv6 on): %s" %
              (label, boot), flush=True)
        client = Client(net)
        echo = Echo(net)
        first_checks(t, label, pri, sec, client, echo)
        cps = wait_for("checkpoints", lambda: pri.stats()["checkpoints"] >= 2
                       and pri.stats()["checkpoints"])
        serve(t, client, label + " after %d checkpoints" % cps, 2)
        if demo:
            live_figures(client, pri)
        load = reasons(pri)
        lose_primary = name in ("primary-lost", "reprotect-primary")
        if lose_primary:
            # a stream opened after the last checkpoint: the survivor must
            # go on translating its numbers (a response that differs
            # brings the checkpoint on now, then none comes by itself)
            pri.qmp.cmd("migrate-set-parameters",
                        **{"x-checkpoint-delay": 600000})
            n = pri.stats()["checkpoints"]
            client.get("/cgi-bin/rand")
            wait_for("the checkpoint it asks for",
                     lambda: pri.stats()["checkpoints"] > n)
        translated = sec.stats()["translated"]
        cps = pri.stats()["checkpoints"]
        stream = Stream(net)
        echo.roundtrip()
        if lose_primary:
            # a checkpoint after the stream's start (the secondary guest
            # falling behind the stream by compare-timeout, say) gives the
            # secondary the primary's numbers: nothing left to translate
            try:
                wait_for("the stream translated by the secondary, or a "
                         "checkpoint since it started",
                         lambda: sec.stats()["translated"] > translated + 10
                         or pri.stats()["checkpoints"] > cps)
            except Fail:
                diagnose(pri, sec)
                raise
            print("# %s: the new stream: %d frames translated, %d "
                  "checkpoints since its start" %
                  (label, sec.stats()["translated"] - translated,
                   pri.stats()["checkpoints"] - cps), flush=True)
        if name == "primary-lost":
            translated = sec.stats()["translated"]
            fail_over(t, label, pri, sec, net, echo)
            survivor = sec
        elif name == "secondary-lost":
            fail_over(t, label, sec, pri, net, echo)
            survivor = pri
        elif name == "reprotect-primary":
            fail_over(t, label + " (primary lost)", pri, sec, net, echo)
            # the survivor's colo-proxy becomes the new pair's primary
            sec.qmp.cmd("x-colo-proxy-promote", id="cp0",
                        addr="127.0.0.1:9003", **{"tls-creds": "tls-cli"})
            net.to_sec(net.tap_p)
            sec2 = reprotect(t, label, vms, (build, net, run, guest, cmdline),
                             nic, sec, client, echo, net.tap_p)
            translated = sec2.stats()["translated"]
            fail_over(t, label + " (promoted primary lost)", sec, sec2, net,
                      echo, net.tap_p)
            survivor = sec2
        else:
            fail_over(t, label + " (secondary lost)", sec, pri, net, echo)
            sec2 = reprotect(t, label, vms, (build, net, run, guest, cmdline),
                             nic, pri, client, echo)
            fail_over(t, label + " (primary lost)", pri, sec2, net, echo)
            survivor = sec2
        serve(t, client, label + " new connections after failover", 2)
        r = stream.close()
        if lose_primary:
            # not a check: a checkpoint another connection brings on
            # between the stream's start and the kill zeroes its offset
            n = survivor.stats()["translated"] - translated
            print("# %s: frames the survivor translated since the failover: "
                  "%d" % (label, n), flush=True)
        t.check(r["same"] and r["received"] > 0 and not r["bad_chunks"],
                "%s: the stream across failover: every byte back, once, in "
                "order" % label, "%d bytes sent, %d received" %
                (r["sent"], r["received"]))
        print("# %s: checkpoint requests by reason: booting %s, serving %s, "
              "through the failover %s" % (label, boot, delta(load, boot),
                                           delta(reasons(survivor), load)
                                           if survivor is pri else "-"),
              flush=True)
        echo.close()
        client.close()
    except Fail as e:
        t.check(False, "%s: %s" % (label, e))
    finally:
        for vm in vms:
            vm.stop()
        net.down()
    return t


def unit_ms(v):
    """wrk's '1.23ms', '456.00us' or '1.02s', in ms."""
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]


def wrk(net, port, path, secs, close=False):
    """A real HTTP client: wrk, 1 thread, 4 connections (or a connection
    per request)."""
    p = subprocess.run(["ip", "netns", "exec", net.client, "wrk", "-t1",
                        "-c4", "-d%ds" % secs, "--latency"] +
                       (["-H", "Connection: close"] if close else []) + [
                        "http://%s:%d%s" % (GUEST_IP, port, path)],
                       stdout=subprocess.PIPE, text=True,
                       timeout=secs * 3 + 60)
    out = p.stdout
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "fails": 0, "unit": "req/s"}
    for q in ("50", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % q, out, re.M)
        r["p" + q] = unit_ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    e = re.search(r"Socket errors: (.*)", out)
    r["fails"] = (int(m.group(1)) if m else 0) + (
        sum(int(x) for x in re.findall(r"\d+", e.group(1))) if e else 0)
    r["n"] = int(re.search(r"(\d+) requests in", out).group(1))
    return r


def iperf3(net, secs, reverse):
    """A real bulk transfer: iperf3 (-R: the guest sends)."""
    p = subprocess.run(["ip", "netns", "exec", net.client, "iperf3", "-c",
                        GUEST_IP, "-t", str(int(secs)), "-J"] +
                       (["-R"] if reverse else []),
                       stdout=subprocess.PIPE, text=True,
                       timeout=secs * 3 + 60)
    j = json.loads(p.stdout)
    if "error" in j:
        return {"rps": 0.0, "fails": 1, "unit": "Mbit/s", "n": 0,
                "p50": float("nan"), "p90": float("nan"),
                "p99": float("nan")}
    bps = j["end"]["sum_received"]["bits_per_second"]
    return {"rps": bps / 1e6, "fails": 0, "unit": "Mbit/s",
            "n": int(j["end"]["sum_received"]["bytes"]),
            "p50": float("nan"), "p90": float("nan"), "p99": float("nan")}


def redis(net, secs):
    """A real key-value load: redis-benchmark SET and GET, 4 clients."""
    n = int(200 * secs)
    p = subprocess.run(["ip", "netns", "exec", net.client, "redis-benchmark",
                        "-h", GUEST_IP, "-t", "set,get", "-n", str(n),
                        "-c", "4", "--csv"], stdout=subprocess.PIPE,
                       text=True, timeout=secs * 20 + 60)
    rows = [line.replace('"', "").split(",") for line in
            p.stdout.splitlines() if line.startswith('"GET"')]
    if not rows:
        return {"rps": 0.0, "fails": 1, "unit": "req/s", "n": 0,
                "p50": float("nan"), "p90": float("nan"),
                "p99": float("nan")}
    g = rows[0]
    # "test","rps","avg","min","p50","p95","p99","max" (ms)
    return {"rps": float(g[1]), "fails": 0, "unit": "req/s", "n": n,
            "p50": float(g[4]), "p90": float(g[5]), "p99": float(g[6])}


# the real workloads of --measure: name, what it runs
TOOLS = [
    ("wrk-1k-date", lambda net, s: wrk(net, 81, "/index.html", s)),
    ("wrk-1k", lambda net, s: wrk(net, 82, "/index.html", s)),
    ("wrk-1k-date-close", lambda net, s: wrk(net, 81, "/index.html", s,
                                             True)),
    ("wrk-64k-date", lambda net, s: wrk(net, 81, "/64k.bin", s)),
    ("wrk-64k", lambda net, s: wrk(net, 82, "/64k.bin", s)),
    ("iperf3-up", lambda net, s: iperf3(net, s, False)),
    ("iperf3-down", lambda net, s: iperf3(net, s, True)),
    ("redis-get", lambda net, s: redis(net, s)),
]


def measure(build, guest, run, chain, secs):
    """Workloads against one setup: no COLO, upstream's chain, colo-proxy."""
    net = Net()
    vms = []
    rows = []
    try:
        net.up()
        if chain == "plain":
            pri = Vm("plain", build, net, run, guest, False, True, "plain")
            vms = [pri]
            wait_for("the guest", lambda: "colo-guest: ready" in
                     open(pri.serial, errors="replace").read(), BOOT_S)
        else:
            pri, sec = start_pair(build, net, run, guest, False, chain)
            vms = [pri, sec]
        loads = [(k, None) for k in ("echo", "static", "64k", "64k-raw")]
        for kind, fn in loads + TOOLS:
            if WORKLOADS and kind not in WORKLOADS:
                continue
            before = checkpoints(pri)
            deltas0 = len(date_deltas(pri))
            reasons0 = (pri.stats()["checkpoint-requests"]
                        if chain == "proxy" else {})
            if fn:
                r = fn(net, secs)
            else:
                out = client(net, "measure", kind,
                             str(secs)).communicate()[0]
                r = json.loads(out)
                r["unit"] = "req/s"
            r["checkpoints"] = checkpoints(pri) - before
            if chain == "proxy":
                r["requests"] = {k: v - reasons0[k] for k, v in
                                 pri.stats()["checkpoint-requests"].items()
                                 if v - reasons0[k]}
            d = sorted(date_deltas(pri)[deltas0:])
            if d:
                r["requests"] = dict(r.get("requests", {}), **{
                    "date-equal": len(d), "date-delta-s": "min %d p50 %d "
                    "p90 %d max %d" % (d[0], d[len(d) // 2],
                                       d[len(d) * 9 // 10], d[-1])})
            rows.append((kind, r))
            print("# %-9s %-12s %8.1f %-6s %7d done  %3d failed  "
                  "%4d checkpoints  p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f "
                  "ms  %s" % (chain, kind, r["rps"], r["unit"], r["n"],
                              r["fails"], r["checkpoints"], r["p50"],
                              r["p90"], r.get("p99", float("nan")),
                              r.get("requests", "")), flush=True)
    finally:
        for vm in vms:
            vm.stop()
        net.down()
    return rows


def date_deltas(vm):
    """The secondary's Date less the primary's, s, of each let pass."""
    out = []
    if os.path.exists(vm.trace):
        with open(vm.trace, errors="replace") as f:
            out = [int(m.group(1)) for m in
                   (re.search(r"colo_proxy_cmp_date_equal .* Date delta "
                              r"(-?\d+) s", line) for line in f) if m]
    return out


def pauses(vm):
    """The primary's checkpoint pauses in ms, from its trace's timestamps."""
    out, stop = [], None
    if not os.path.exists(vm.trace):
        return out
    with open(vm.trace, errors="replace") as f:
        for line in f:
            m = re.match(r"\d+@(\d+\.\d+):colo_vm_state_change "
                         r"Change '(\w+)' => '(\w+)'", line)
            if not m:
                continue
            if m.group(2) == "run" and m.group(3) == "stop":
                stop = float(m.group(1))
            elif m.group(3) == "run" and stop is not None:
                out.append((float(m.group(1)) - stop) * 1000)
                stop = None
    return out


def pct(vals, q):
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(len(vals) * q))] if vals else 0.0


def checkpoint_cost(build, guest, run, secs, delay_ms=200):
    """
    A checkpoint every @delay_ms for @secs while a client fetches 64 KiB
    pages: how long the primary's VM pauses, and how long its main loop
    stalls meanwhile (back-to-back query-status on its QMP: the main
    loop answers it).
    """
    net = Net()
    vms = []
    try:
        net.up()
        pri, sec = start_pair(build, net, run, guest, False)
        vms = [pri, sec]
        pri.qmp.cmd("migrate-set-parameters",
                    **{"x-checkpoint-delay": delay_ms})
        load = client(net, "measure", "64k", str(secs))
        before = len(pauses(pri))
        lat = []
        end = time.monotonic() + secs
        while time.monotonic() < end:
            t0 = time.monotonic()
            pri.qmp.cmd("query-status")
            lat.append((time.monotonic() - t0) * 1000)
        r = json.loads(load.communicate()[0])
        p = pauses(pri)[before:]
        print("# checkpoint every %d ms for %.0f s, 64 KiB pages: %d "
              "checkpoints; VM pause ms p50 %.1f p90 %.1f max %.1f; "
              "main loop (QMP query-status) ms p50 %.2f p99 %.1f max %.1f, "
              "%d of %d answers over 10 ms; client %.1f req/s" % (
                  delay_ms, secs, len(p), pct(p, 0.5), pct(p, 0.9),
                  max(p or [0]), pct(lat, 0.5), pct(lat, 0.99),
                  max(lat or [0]), sum(x > 10 for x in lat), len(lat),
                  r["rps"]), flush=True)
    finally:
        for vm in vms:
            vm.stop()
        net.down()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--cmdline", action="store_true")
    ap.add_argument("--scenario", action="append",
                    help="primary-lost, secondary-lost, reprotect (the "
                    "secondary lost, then the primary) or reprotect-primary "
                    "(the primary lost, then the promoted survivor)")
    ap.add_argument("--nic", default="e1000", choices=("e1000", "virtio"))
    ap.add_argument("--chains", default="plain,upstream,proxy")
    ap.add_argument("--measure", type=float, metavar="SECONDS",
                    help="measure each workload this long for no COLO, "
                    "upstream's chain and colo-proxy, and print a table")
    ap.add_argument("--workloads", help="--measure only these, by name")
    ap.add_argument("--checkpoint-delay", type=int, metavar="MS",
                    help="x-checkpoint-delay of the pairs (default: 20000 "
                    "for --measure, else 3000)")
    ap.add_argument("--proxy-option", action="append", default=[],
                    metavar="KEY=VALUE", help="a property of both "
                    "colo-proxy objects (http-date-ports=81, say)")
    ap.add_argument("--checkpoint-cost", type=float, metavar="SECONDS",
                    help="checkpoint every 200 ms this long under load and "
                    "print the VM pause and the primary's main-loop stall")
    a = ap.parse_args()
    global WORKLOADS, CHECKPOINT_DELAY
    WORKLOADS = a.workloads.split(",") if a.workloads else None
    CHECKPOINT_DELAY = a.checkpoint_delay
    for o in a.proxy_option:
        k, _, v = o.partition("=")
        # http-date-ports is a string, if only of digits
        PROXY_OPTIONS[k] = (int(v) if v.isdigit() and k != "http-date-ports"
                            else v)
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root for network namespaces")
        return 0
    # the measurements' guest has real servers from Debian too
    guest = subprocess.run([os.path.join(TOP, "project/guest/build-guest.sh")]
                           + (["servers"] if a.measure else []),
                           check=True, stdout=subprocess.PIPE,
                           text=True).stdout.strip()
    run = tempfile.mkdtemp(prefix="colo-e2e-")
    print("# logs in " + run, flush=True)
    if a.checkpoint_cost:
        checkpoint_cost(os.path.abspath(a.build), guest, run,
                        a.checkpoint_cost)
        return 0
    if a.measure:
        global MEASURE
        MEASURE = True
        for chain in a.chains.split(","):
            measure(os.path.abspath(a.build), guest, run, chain, a.measure)
        return 0
    failed = total = 0
    for name in a.scenario or ["secondary-lost", "primary-lost"]:
        t = scenario(os.path.abspath(a.build), guest, run, name, a.cmdline,
                     a.demo, a.nic)
        failed += t.failed
        total += t.n
    print("1..%d" % total)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
