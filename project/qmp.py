#!/usr/bin/python3
"""A minimal QMP client over a unix socket, for the project's scripts.

As a command: qmp.py SOCKET COMMAND [JSON-ARGUMENTS]  prints the return.
"""
import json
import socket
import sys


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.file = self.sock.makefile("r")
        self.events = []
        json.loads(self.file.readline())            # the greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            line = self.file.readline()
            if not line:
                raise QMPError(f"{name}: connection closed")
            rsp = json.loads(line)
            if "event" in rsp:
                self.events.append(rsp)
            elif "error" in rsp:
                raise QMPError(f"{name}: {rsp['error']['desc']}")
            else:
                return rsp["return"]

    def close(self):
        self.file.close()
        self.sock.close()


if __name__ == "__main__":
    q = QMP(sys.argv[1])
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    print(json.dumps(q.cmd(sys.argv[2], **args), indent=2))
