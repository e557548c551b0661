#!/usr/bin/python3
"""A fake secondary floods a primary's colo-proxy with stored output.

The primary QEMU (fake guest topology, -M none, default bounds) links to
this script, which plays the secondary: it answers the HELLO and then
sends its "guest's" TCP output, ahead of anything the primary's guest
sent, on many connections at once, as fast as the link takes it.  Before
max-ahead-total this grew the primary without bound (max-ahead per
connection times max-connections).  Printed: the primary's peak RSS
before and after, what it keeps, the checkpoint requests.

usage: flood-secondary.py BUILD_DIR [MBYTES] [PAYLOAD]
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

HDR = struct.Struct(">BBBBI")


def msg(t, payload=b""):
    return HDR.pack(t, 0, 0, 0, len(payload)) + payload


def tcp_frame(cport, seq, payload):
    """The secondary guest's segment, port 80 to the client's @cport."""
    tcp = struct.pack(">HHIIBBHHH", 80, cport, seq, 1, 5 << 4, 0x18,
                      65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload),
                     0, 0x4000, 64, 6, 0, bytes([10, 0, 0, 1]),
                     bytes([10, 0, 0, 2]))
    eth = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0])
    return eth + ip + tcp + payload


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(200):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.f = self.s.makefile("rw")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "event" not in r:
                return r.get("return", r)


def rss_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def main():
    build = sys.argv[1]
    mbytes = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    payload = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    d = tempfile.mkdtemp(prefix="colo-flood-")
    link = os.path.join(d, "link")
    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(link)
    lsock.listen(1)
    qmp_path = os.path.join(d, "qmp")
    pri = subprocess.Popen(
        [os.path.join(build, "qemu-system-x86_64"), "-M", "none",
         "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % qmp_path,
         "-netdev", "user,id=hn0", "-object",
         "colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=unix:" + link],
        stderr=subprocess.DEVNULL)
    try:
        qmp = Qmp(qmp_path)
        conn, _ = lsock.accept()
        conn.recv(24)                       # the primary's HELLO
        hello = b"COLOPRXY" + struct.pack(">HBBI", 2, 1, 0, 65792)
        conn.sendall(msg(1, hello))
        # COLO starts: the primary's checkpoint, and ours (the marker)
        qmp.cmd("x-colo-proxy-event", id="cp0", event="checkpoint")
        conn.sendall(msg(5))
        before = rss_kib(pri.pid, "VmRSS")
        conns, seqs, sent = 100000, {}, 0
        body = b"x" * payload
        chunk = []
        start = time.monotonic()
        while sent < mbytes << 20:
            for i in range(conns):
                cport = 1024 + i % 60000 + (i // 60000)
                seq = seqs.get(i, 1000)
                seqs[i] = seq + payload
                chunk.append(msg(2, tcp_frame(cport, seq, body)))
                if len(chunk) == 2000:
                    data = b"".join(chunk)
                    conn.sendall(data)
                    sent += len(data)
                    chunk = []
                if sent >= mbytes << 20:
                    break
        took = time.monotonic() - start
        info = qmp.cmd("query-colo-proxy")[0]["stats"]
        reqs = {k: v for k, v in info["checkpoint-requests"].items() if v}
        print("fake secondary: %d MiB of %d-byte segments over %d "
              "connections in %.1f s" % (mbytes, payload, conns, took))
        print("primary RSS: %d MiB before, %d MiB peak (VmHWM), %d MiB now"
              % (before >> 10, rss_kib(pri.pid, "VmHWM") >> 10,
                 rss_kib(pri.pid, "VmRSS") >> 10))
        print("kept of the secondary's output: %d MiB (max-ahead-total "
              "64 MiB); from-peer %d; connections %d; requests %s"
              % (info["secondary-kept-bytes"] >> 20, info["from-peer"],
                 info["connections"], reqs))
        qmp.cmd("quit")
    finally:
        pri.wait(timeout=30)
        os.unlink(link)
        os.rmdir(d)


if __name__ == "__main__":
    main()
