#!/usr/bin/python3
"""A real two-node Pacemaker/corosync cluster running a COLO pair.

Each node is a network, mount and UTS namespace on this machine
(node.sh: its own /run, /dev/shm, /etc/corosync, /var/lib/pacemaker,
/var/log), running Debian's corosync and Pacemaker; the colo-vm OCF
agent (project/ocf/colo-vm) runs the real guest (project/guest) under
them as a promotable clone, fencing is fence_colo_ns (kill -9 of a
node's processes).  The networks:

  cluster:  br-clu, 10.1.0.N per node: corosync, COLO migration and
            colo-proxy's link (TLS with a pre-shared key)
  external: br-ext, the client 10.0.0.1; each node's br0 (the agent's
            bridge=) joins it, the primary's tap joins br0

Scenarios, one after the other, with a verified byte stream and a live
echo connection open across all of them: the cluster starts and
protects the guest by itself; the primary node dies (QEMU and cluster
daemons, SIGKILL) and the other one takes over; the node comes back and
is re-protected by itself; the other way round; the cluster network is
cut (the documented split-brain policy: the secondary's node is fenced,
one primary answers); the stream comes back whole.  Prints TAP, and the
measured failover and re-protection times.

usage: colo_cluster.py BUILD_DIR [--nic e1000|virtio] [--demo]

--demo: the cluster's start, one failover and the re-protection, with
live figures, then it cleans up.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "project"))
sys.path.insert(0, os.path.join(TOP, "project/e2e"))
from qmp import QMP, QMPError  # noqa: E402
import colo_e2e  # noqa: E402

# bounds on waiting for things that must happen (guards, not timing)
STEP_S = 180
FENCE_DELAY = "5s"

COROSYNC = """totem {
    version: 2
    cluster_name: colo
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
    token: 2000
}
nodelist {
%s}
quorum {
    provider: corosync_votequorum
    two_node: 1
}
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
    to_stderr: no
    timestamp: on
}
"""


def sh(*args, ns=None, check=True, timeout=60):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          timeout=timeout).stdout


class Fail(Exception):
    pass


def wait_for(what, fn, limit=STEP_S):
    deadline = time.monotonic() + limit
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Fail("gave up waiting for " + what)
        time.sleep(0.2)


class Node:
    def __init__(self, run, name, index, tag):
        self.name, self.index = name, index
        self.ns = "cl-%s-%s" % (name, tag)
        self.dir = os.path.join(run, name)
        self.run = run
        self.addr = "10.1.0.%d" % index
        self.proc = None

    def net(self, host):
        ns, h = self.ns, host
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "link", "add", "c-" + self.name, "netns", h, "type",
           "veth", "peer", "name", "clu0", "netns", ns)
        sh("ip", "link", "set", "c-" + self.name, "master", "br-clu", "up",
           ns=h)
        sh("ip", "addr", "add", self.addr + "/24", "dev", "clu0", ns=ns)
        sh("ip", "link", "set", "clu0", "up", ns=ns)
        sh("ip", "link", "add", "e-" + self.name, "netns", h, "type",
           "veth", "peer", "name", "ext0", "netns", ns)
        sh("ip", "link", "set", "e-" + self.name, "master", "br-ext", "up",
           ns=h)
        sh("ip", "link", "add", "br0", "type", "bridge", ns=ns)
        sh("ip", "link", "set", "ext0", "master", "br0", "up", ns=ns)
        sh("ip", "link", "set", "br0", "up", ns=ns)
        # a virtio guest's partial checksums are completed on the way out
        sh("ethtool", "-K", "ext0", "tx", "off", ns=ns)
        with open(os.path.join(self.run, self.name + ".netns"), "w") as f:
            f.write(sh("readlink", "/proc/self/ns/net", ns=ns))

    def config(self, nodes):
        os.makedirs(os.path.join(self.dir, "etc/corosync"), exist_ok=True)
        nl = "".join("    node {\n        name: %s\n        nodeid: %d\n"
                     "        ring0_addr: %s\n    }\n" %
                     (n.name, n.index, n.addr) for n in nodes)
        with open(os.path.join(self.dir, "etc/corosync/corosync.conf"),
                  "w") as f:
            f.write(COROSYNC % nl)
        shutil.copy(os.path.join(self.run, "authkey"),
                    os.path.join(self.dir, "etc/corosync/authkey"))
        os.chmod(os.path.join(self.dir, "etc/corosync/authkey"), 0o400)

    def power_on(self):
        self.log = open(os.path.join(self.run, self.name + ".out"), "a")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--uts",
             "--propagation", "private", os.path.join(HERE, "node.sh"),
             self.dir, self.name, os.path.join(self.run, "layer")],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.t_on = time.monotonic()

    def pids(self):
        out = sh("ip", "netns", "pids", self.ns, check=False)
        return [int(p) for p in out.split()]

    def power_off(self):
        """Every process of the node, SIGKILL: its host is gone."""
        while True:
            pids = self.pids()
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, 9)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        if self.proc:
            self.proc.wait()
            self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cmd(self, *args, timeout=30):
        """A command in the node's namespaces."""
        return subprocess.run(
            ["nsenter", "-t", str(self.proc.pid), "-m", "-u", "-n"] +
            list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=timeout)

    def root(self, path):
        return "/proc/%d/root%s" % (self.proc.pid, path)

    def qmp(self):
        """The test's own monitor of the node's QEMU (None: no QEMU)."""
        try:
            return QMP(self.root("/run/colo-vm/vm/test.qmp"), timeout=10)
        except (OSError, QMPError):
            return None

    def colo_mode(self):
        q = self.qmp()
        if not q:
            return None
        try:
            return q.cmd("query-colo-status")["mode"]
        except QMPError:
            return None
        finally:
            q.close()

    def proxy(self):
        q = self.qmp()
        if not q:
            return {}
        try:
            return q.cmd("query-colo-proxy")[0]
        finally:
            q.close()

    def serial(self):
        try:
            with open(self.root("/run/colo-vm/vm/serial.log"),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Cluster:
    def __init__(self, build, nic):
        self.tag = str(os.getpid())
        self.run = tempfile.mkdtemp(prefix="colo-cluster-")
        self.host = "cl-h" + self.tag
        self.client_ns = "cl-c" + self.tag
        self.nodes = [Node(self.run, "n1", 1, self.tag),
                      Node(self.run, "n2", 2, self.tag)]
        self.build, self.nic = build, nic

    def up(self):
        h = self.host
        colo_e2e.host_and_client(h, self.client_ns, ("br-ext", "br-clu"))
        for n in self.nodes:
            n.net(h)
        self.layer()
        with open(os.path.join(self.run, "authkey"), "wb") as f:
            f.write(os.urandom(128))
        for n in self.nodes:
            n.config(self.nodes)

    def layer(self):
        """What node.sh lays over /usr: the fence and OCF agents."""
        lay = os.path.join(self.run, "layer")
        os.makedirs(os.path.join(lay, "sbin"))
        os.makedirs(os.path.join(lay, "ocf/colo-proxy"))
        shutil.copy(os.path.join(HERE, "fence_colo_ns"),
                    os.path.join(lay, "sbin"))
        shutil.copy(os.path.join(TOP, "project/ocf/colo-vm"),
                    os.path.join(lay, "ocf/colo-proxy"))

    def configure(self, guest):
        psk = colo_e2e.psk_dir(self.run)
        qemu_args = " ".join([
            "-L /usr/share/qemu -L /usr/share/seabios -L /usr/lib/ipxe/qemu",
            "-M pc -accel tcg -m 256 -nodefaults -display none -no-reboot",
            "-kernel %s/vmlinuz -initrd %s/initrd.img" % (guest, guest),
            "-append 'console=ttyS0 quiet panic=-1'",
            "-serial file:/run/colo-vm/vm/serial.log",
            "-qmp unix:/run/colo-vm/vm/test.qmp,server=on,wait=off"])
        n1, n2 = self.nodes
        subst = {"N1": n1.name, "N2": n2.name, "A1": n1.addr,
                 "A2": n2.addr, "NODES": self.run, "PSK": psk,
                 "QEMU": os.path.join(self.build, "qemu-system-x86_64"),
                 "QEMU_ARGS": qemu_args,
                 "NIC": "virtio-net-pci" if self.nic == "virtio" else
                 "e1000", "FENCE_DELAY": FENCE_DELAY}
        with open(os.path.join(HERE, "colo-vm.crm.in")) as f:
            text = f.read()
        for k, v in subst.items():
            text = text.replace("@%s@" % k, v)
        path = os.path.join(self.run, "colo-vm.crm")
        with open(path, "w") as f:
            f.write(text)
        r = n1.cmd("crm", "configure", "load", "update", path, timeout=120)
        if r.returncode:
            raise Fail("crm configure: " + r.stdout)

    def online(self, nodes):
        def ok():
            r = nodes[0].cmd("crm_mon", "-1", "--output-as=text")
            return all(n.name in r.stdout.split("Online: [")[1].split("]")[0]
                       for n in nodes) if "Online: [" in r.stdout else False
        wait_for("the cluster online", ok)

    def roles(self):
        """(primary, secondary) nodes by their QEMUs' COLO modes."""
        modes = {n: n.colo_mode() if n.alive() else None
                 for n in self.nodes}
        pri = [n for n, m in modes.items() if m == "primary"]
        sec = [n for n, m in modes.items() if m == "secondary"]
        if len(pri) == 1 and len(sec) == 1:
            return pri[0], sec[0]
        return None

    def protected(self, limit=STEP_S):
        return wait_for("a protected pair (COLO primary and secondary)",
                        self.roles, limit)

    def down(self):
        for n in self.nodes:
            n.power_off()
        for ns in [n.ns for n in self.nodes] + [self.host, self.client_ns]:
            sh("ip", "netns", "del", ns, check=False)

    def cut(self, on):
        for n in self.nodes:
            sh("ip", "link", "set", "c-" + n.name, "up" if on else "down",
               ns=self.host)

    def fenced(self):
        try:
            with open(os.path.join(self.run, "fenced")) as f:
                return [line.split()[1] for line in f]
        except OSError:
            return []


class Net:
    """What colo_e2e's client helpers need of a network."""

    def __init__(self, client_ns):
        self.client = client_ns


class Timer(threading.Thread):
    """One echo round trip, timed, in the background."""

    def __init__(self, echo):
        super().__init__(daemon=True)
        self.echo, self.answer, self.t = echo, None, None

    def run(self):
        self.answer = self.echo.roundtrip()
        self.t = time.monotonic()


def fail_over(t, cl, echo, label, figures):
    """The primary's node dies; the other node takes over by itself."""
    pri, sec = cl.roles()
    t0 = time.monotonic()
    pri.power_off()
    rt = Timer(echo)
    rt.start()
    wait_for("the survivor promoted",
             lambda: sec.colo_mode() == "none" and
             sec.proxy().get("mode") == "primary")
    t_promoted = time.monotonic() - t0
    rt.join(STEP_S)
    t_answer = rt.t - t0 if rt.t else None
    if rt.answer != "ok":
        for n in cl.nodes:
            if n.alive():
                print("# %s: %s" % (n.name, json.dumps(n.proxy())),
                      flush=True)
                q = n.qmp()
                print("# %s: %s %s" % (n.name, q.cmd("query-status"),
                                       q.cmd("query-colo-status")),
                      flush=True)
                q.close()
                print("# %s serial: %s" % (n.name, n.serial()[-300:]))
                try:
                    with open(n.root("/run/colo-vm/vm/qemu.log"),
                              errors="replace") as f:
                        print("# %s qemu.log: %s" % (n.name,
                                                    f.read()[-600:]))
                except OSError:
                    pass
    t.check(rt.answer == "ok", "%s: the live TCP connection survives the "
            "death of %s" % (label, pri.name),
            "promoted %.1f s, answered %.1f s after the kill" %
            (t_promoted, t_answer or -1))
    t.check(pri.name in cl.fenced(), "%s: %s was fenced before the "
            "failover" % (label, pri.name))
    e = [echo.roundtrip() for _ in range(5)]
    t.check(e == ["ok"] * 5, "%s: no byte lost or duplicated" % label,
            str(e))
    figures.append(("failover", pri.name, t_promoted, t_answer))
    return pri, sec


def reprotect(t, cl, node, echo, client, label, figures):
    """@node powers on again: re-protected with no one's help."""
    t0 = time.monotonic()
    node.power_on()
    wait_for("%s re-protected" % node.name,
             lambda: node.alive() and node.colo_mode() == "secondary")
    dt = time.monotonic() - t0
    t.check(cl.roles() is not None, "%s: %s is re-protected by itself" %
            (label, node.name), "%.1f s from power-on to in sync" % dt)
    colo_e2e.serve(t, client, label + " re-protected", 2)
    t.check(echo.roundtrip() == "ok", "%s: the live connection goes on" %
            label)
    figures.append(("re-protection", node.name, dt, None))


def partition(t, cl, echo, label):
    """The cluster network is cut: the secondary's node is fenced."""
    pri, sec = cl.roles()
    before = len(cl.fenced())
    cl.cut(False)
    both = 0
    while sec.alive() and sec.pids():
        if sec.colo_mode() not in ("secondary", None) and \
                pri.colo_mode() is not None:
            both += 1
        time.sleep(0.2)
        if not pri.alive():
            break
    # the fence device kills the node's processes one after the other,
    # then records the fencing
    wait_for("%s fenced" % sec.name, lambda: not sec.pids() and
             cl.fenced()[before:])
    t.check(pri.alive() and cl.fenced()[before:] == [sec.name],
            "%s: the secondary's "
            "node %s is fenced, the primary's lives" % (label, sec.name))
    t.check(both == 0, "%s: never two primaries" % label,
            "%d samples with both" % both)
    t.check(echo.roundtrip() == "ok", "%s: the primary answers the live "
            "connection" % label)
    cl.cut(True)
    sec.power_off()
    return sec


def figures(cl, client, seconds):
    """The demo: client load, and once a second what the cluster does."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0, n = time.monotonic(), 0
        while time.monotonic() - t0 < 1:
            n += client.get("/index.html")["status"] == "200"
        nodes = []
        for node in cl.nodes:
            if not node.alive():
                nodes.append("%s: off" % node.name)
                continue
            mode = node.colo_mode() or "no QEMU"
            info = node.proxy() if mode != "no QEMU" else {}
            nodes.append("%s: COLO %-9s link %-4s checkpoints %3s" % (
                node.name, mode, info.get("link", "-"),
                info.get("stats", {}).get("checkpoints", "-")))
        print("#   %5.1f req/s | %s" % (n / (time.monotonic() - t0),
                                       " | ".join(nodes)), flush=True)


def demo(cl, client, echo):
    out = cl.nodes[0].cmd("crm_mon", "-1").stdout
    print("\n".join("#   " + line for line in out.splitlines()), flush=True)
    print("# the cluster runs the guest, protected; client load:",
          flush=True)
    figures(cl, client, 8)
    pri, sec = cl.roles()
    print("# %s dies (its QEMU, corosync and Pacemaker: SIGKILL); nobody "
          "types a command from here on" % pri.name, flush=True)
    t0 = time.monotonic()
    pri.power_off()
    wait_for("the survivor promoted",
             lambda: sec.colo_mode() == "none" and
             sec.proxy().get("mode") == "primary")
    print("# %s fenced %s and took over after %.1f s; the live echo "
          "connection: %s" % (sec.name, pri.name, time.monotonic() - t0,
                              echo.roundtrip()), flush=True)
    figures(cl, client, 5)
    print("# %s powers on again: it joins the cluster, which starts a "
          "secondary there; the survivor starts COLO with it" % pri.name,
          flush=True)
    t0 = time.monotonic()
    pri.power_on()
    wait_for("re-protection", lambda: pri.alive() and
             pri.colo_mode() == "secondary")
    print("# re-protected after %.1f s; the live echo connection: %s" %
          (time.monotonic() - t0, echo.roundtrip()), flush=True)
    figures(cl, client, 8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--nic", default="e1000", choices=("e1000", "virtio"))
    ap.add_argument("--demo", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root for namespaces")
        return 0
    guest = subprocess.run([os.path.join(TOP, "project/guest/build-guest.sh")],
                           check=True, stdout=subprocess.PIPE,
                           text=True).stdout.strip()
    cl = Cluster(os.path.abspath(a.build), a.nic)
    print("# logs in " + cl.run, flush=True)
    t = colo_e2e.Tap()
    figures = []
    try:
        cl.up()
        if os.environ.get("COLO_PCAP"):
            # debugging: what the client saw of the echo service
            subprocess.Popen(["ip", "netns", "exec", cl.client_ns, "tcpdump",
                              "-q", "-i", "veth-c", "-s", "128", "-w",
                              os.path.join(cl.run, "client.pcap"), "port 7"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            subprocess.Popen(["ip", "netns", "exec", cl.host, "tcpdump",
                              "-q", "-i", "any", "-s", "128", "-w",
                              os.path.join(cl.run, "host.pcap"),
                              "port 7 or arp or icmp6"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        for n in cl.nodes:
            n.power_on()
        cl.online(cl.nodes)
        cl.configure(guest)
        pri, sec = cl.protected()
        wait_for("the guest", lambda: "colo-guest: ready" in pri.serial())
        t.check(True, "the cluster starts the guest on %s and protects it "
                "from %s by itself" % (pri.name, sec.name),
                "%.1f s from power-on" % (time.monotonic() - t0))
        net = Net(cl.client_ns)
        client, echo = colo_e2e.Client(net), colo_e2e.Echo(net)
        stream = colo_e2e.Stream(net)
        colo_e2e.serve(t, client, "protected", 2)
        t.check(echo.roundtrip() == "ok", "a live TCP connection")
        if a.demo:
            demo(cl, client, echo)
            stream.close()
            return 0
        for label in ("first failover", "second failover"):
            lost, _ = fail_over(t, cl, echo, label, figures)
            reprotect(t, cl, lost, echo, client, label, figures)
        lost = partition(t, cl, echo, "cluster network cut")
        reprotect(t, cl, lost, echo, client, "after the cut", figures)
        r = stream.close()
        if not r["same"]:
            for n in cl.nodes:
                print("# %s: %s" % (n.name, json.dumps(n.proxy())),
                      flush=True)
        t.check(r["same"] and r["received"] > 0 and not r["bad_chunks"],
                "the stream across everything: every byte back, once, in "
                "order", "%d bytes sent, %d received" %
                (r["sent"], r["received"]))
        echo.close()
        client.close()
    except (Fail, colo_e2e.Fail, QMPError, OSError,
            subprocess.SubprocessError) as e:
        t.check(False, "cluster: %s" % e)
    finally:
        cl.down()
    for what, node, dt, answer in figures:
        print("# %s (%s): %.1f s%s" % (
            what, node, dt, "" if answer is None else
            ", the client answered after %.1f s" % answer), flush=True)
    print("1..%d" % t.n, flush=True)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
