#!/usr/bin/python3
"""Tests of the colo-vm OCF agent on its own, outside a cluster.

ocf-tester (resource-agents) on the agent with the real guest; then the
edges: a hung QEMU (SIGSTOP) fails monitor within the QMP timeout and
is killed by stop; bad parameters give the OCF error codes; the
promotion score of an unsynced secondary follows what notify says of
the peer (crm_master is replaced by a recorder on PATH: the score is
what the agent hands Pacemaker).  Prints TAP.

usage: agent_test.py BUILD_DIR
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
AGENT = os.path.join(HERE, "colo-vm")
sys.path.insert(0, os.path.join(TOP, "project/e2e"))
import colo_e2e  # noqa: E402

NODE = "node-a"


class Env:
    def __init__(self, build, guest, run):
        self.ns = "colo-ocf%d" % os.getpid()
        self.run = run
        psk = colo_e2e.psk_dir(run)
        self.params = {
            "qemu": os.path.join(build, "qemu-system-x86_64"),
            "qemu_args": " ".join([
                "-L /usr/share/qemu -L /usr/share/seabios",
                "-L /usr/lib/ipxe/qemu -M pc -accel tcg -m 256",
                "-nodefaults -display none -no-reboot",
                "-kernel %s/vmlinuz -initrd %s/initrd.img" % (guest, guest),
                "-append 'console=ttyS0 quiet panic=-1'",
                "-serial file:%s/serial.log" % run]),
            "mac": "52:54:00:12:34:56", "bridge": "br0",
            "peers": "%s=10.1.0.1 node-b=10.1.0.2" % NODE,
            "psk_dir": psk, "state_dir": os.path.join(run, "state"),
            "qmp_timeout": "2"}
        bindir = os.path.join(run, "bin")
        os.makedirs(bindir)
        rec = os.path.join(bindir, "crm_master")
        with open(rec, "w") as f:
            f.write("#!/bin/sh\necho \"$*\" >> %s/scores\n" % run)
        os.chmod(rec, 0o755)
        self.path = bindir + ":" + os.environ["PATH"]

    def up(self):
        for cmd in (["ip", "netns", "add", self.ns],
                    ["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "br0", "type", "bridge"],
                    ["ip", "link", "set", "br0", "up"],
                    ["ip", "addr", "add", "10.1.0.1/24", "dev", "br0"]):
            if cmd[:3] != ["ip", "netns", "add"]:
                cmd = ["ip", "netns", "exec", self.ns] + cmd
            subprocess.run(cmd, check=True)

    def down(self):
        subprocess.run(["ip", "netns", "del", self.ns])

    def agent(self, action, extra=None, meta=None, timeout=120):
        env = dict(os.environ, PATH=self.path, OCF_ROOT="/usr/lib/ocf",
                   OCF_RESOURCE_INSTANCE="vm",
                   OCF_RESKEY_CRM_meta_on_node=NODE)
        for k, v in dict(self.params, **(extra or {})).items():
            env["OCF_RESKEY_" + k] = v
        for k, v in (meta or {}).items():
            env["OCF_RESKEY_CRM_meta_" + k] = v
        p = subprocess.run(["ip", "netns", "exec", self.ns, AGENT, action],
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout

    def scores(self):
        try:
            with open(os.path.join(self.run, "scores")) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def qemu_pid(self):
        try:
            with open(os.path.join(self.params["state_dir"],
                                   "qemu.pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0


def ocf_tester(t, env):
    args = ["ocf-tester", "-n", "vm"]
    for k, v in env.params.items():
        args += ["-o", "%s=%s" % (k, v)]
    p = subprocess.run(["ip", "netns", "exec", env.ns] + args + [AGENT],
                       env=dict(os.environ, OCF_ROOT="/usr/lib/ocf",
                                OCF_RESKEY_CRM_meta_on_node=NODE),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    t.check(p.returncode == 0 and "passed all tests" in p.stdout,
            "ocf-tester passes", p.stdout.strip().splitlines()[-1])


def hung_qemu(t, env):
    rc, out = env.agent("start")
    pid = env.qemu_pid()
    t.check(rc == 0 and pid, "start: a secondary QEMU", out.strip())
    t.check(env.agent("monitor")[0] == 0, "monitor: running, unpromoted")
    os.kill(pid, signal.SIGSTOP)
    rc, out = env.agent("monitor", timeout=60)
    t.check(rc == 1, "monitor of a hung QEMU fails (no hang)",
            "rc %d: %s" % (rc, out.strip().splitlines()[-1]))
    rc, out = env.agent("stop", timeout=60)
    gone = not os.path.exists("/proc/%d" % pid) or \
        open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    t.check(rc == 0 and gone, "stop kills a hung QEMU", "rc %d" % rc)
    t.check(env.agent("monitor")[0] == 7, "monitor after stop: not "
            "running")


def bad_params(t, env):
    psk = env.params["psk_dir"]
    bad = os.path.join(env.run, "psk-open")
    shutil.copytree(psk, bad)
    os.chmod(os.path.join(bad, "keys.psk"), 0o644)
    for what, extra, want in (
            ("no such QEMU", {"qemu": "/nonexistent/qemu"}, 5),
            ("peers without this node", {"peers": "x=1.2.3.4 y=1.2.3.5"},
             6),
            ("no pre-shared key", {"psk_dir": "/nonexistent"}, 6),
            ("a key others can read", {"psk_dir": bad}, 4),
            ("no such bridge", {"bridge": "nobr"}, 6),
            ("a port that is not a number", {"link_port": "x"}, 6),
            ("mac missing", {"mac": ""}, 6)):
        rc, out = env.agent("validate-all", extra)
        t.check(rc == want, "validate-all: %s gives %d" % (what, want),
                "rc %d" % rc)
    rc, _ = env.agent("start", {"psk_dir": "/nonexistent"})
    t.check(rc == 6 and not env.qemu_pid(), "start refuses bad parameters "
            "before QEMU starts", "rc %d" % rc)


def scores(t, env):
    meta = {"clone": "0"}
    env.agent("start")
    env.agent("monitor", meta=meta)
    t.check(env.scores()[-1:] == ["-q -l reboot -D"], "an unsynced "
            "secondary with nothing known of the peer gets no score",
            str(env.scores()[-1:]))
    post = dict(meta, notify_type="post", notify_operation="start",
                notify_promoted_uname="node-b", notify_start_uname=NODE)
    env.agent("notify", meta=post)
    env.agent("monitor", meta=meta)
    t.check(env.scores()[-1:] == ["-q -l reboot -D"], "an unsynced "
            "secondary while the peer is promoted gets no score",
            str(env.scores()[-1:]))
    post = dict(meta, notify_type="post", notify_operation="stop",
                notify_promoted_uname="node-b", notify_stop_uname="node-b",
                notify_demote_uname="node-b")
    env.agent("notify", meta=post)
    env.agent("monitor", meta=meta)
    t.check(env.scores()[-1:] == ["-q -l reboot -v 10"], "an unsynced "
            "secondary with no primary anywhere may boot the guest (10)",
            str(env.scores()[-1:]))
    rc, out = env.agent("promote", meta=meta)
    env.agent("monitor", meta=meta)
    t.check(rc == 0 and env.agent("monitor", meta=meta)[0] == 8 and
            env.scores()[-1:] == ["-q -l reboot -v 100"],
            "promoted with no copy: a primary booted afresh (8, score 100)",
            out.strip())
    rc, _ = env.agent("demote", meta=meta)
    t.check(rc == 0 and env.agent("monitor", meta=meta)[0] == 0,
            "demote: a fresh secondary in the primary's place")
    env.agent("stop", meta=meta)
    t.check(env.scores()[-1:] == ["-q -l reboot -D"], "stop removes the "
            "score")


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root for namespaces")
        return 0
    build = os.path.abspath(sys.argv[1])
    guest = subprocess.run([os.path.join(TOP, "project/guest/build-guest.sh")],
                           check=True, stdout=subprocess.PIPE,
                           text=True).stdout.strip()
    run = tempfile.mkdtemp(prefix="colo-ocf-")
    env = Env(build, guest, run)
    t = colo_e2e.Tap()
    env.up()
    try:
        ocf_tester(t, env)
        hung_qemu(t, env)
        bad_params(t, env)
        scores(t, env)
    finally:
        pid = env.qemu_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        env.down()
        shutil.rmtree(run, ignore_errors=True)
    print("1..%d" % t.n)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
