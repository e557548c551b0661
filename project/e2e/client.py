#!/usr/bin/python3
"""The client of the end-to-end test, run in the client namespace.

usage: client.py IP requests   one JSON request per stdin line
                               ({"path": ...}), one JSON answer per line
       client.py IP echo       one line per stdin line through one TCP
                               connection to :7; prints ok or bad
       client.py IP measure KIND SECONDS
                               KIND echo|static|64k|64k-raw for SECONDS;
                               prints requests/s, failures, p50/p90
"""
import json
import socket
import sys
import time


def connect(ip, port, first=False):
    """
    The guest's services start in the background: let them bind.  The
    very first contact may also wait for ARP (its answer can take a
    checkpoint while the secondary catches up after boot).
    """
    for _ in range(100 if first else 1):
        try:
            return socket.create_connection((ip, port), timeout=60)
        except (ConnectionRefusedError, OSError) as e:
            if not first:
                raise
            last = e
            time.sleep(0.1)
    raise last


def read_all(s):
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data
        data += b


def get(ip, path):
    """HTTP/1.0 GET: (status, body)."""
    s = connect(ip, 80)
    s.sendall(b"GET %s HTTP/1.0\r\nHost: guest\r\n\r\n" % path.encode())
    data = read_all(s)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return (head.split(b" ")[1].decode() if head else "-"), body


def echo_once(c, msg):
    c.sendall(msg)
    got = b""
    while len(got) < len(msg):
        b = c.recv(65536)
        if not b:
            break
        got += b
    return got == msg


def requests(ip):
    connect(ip, 80, first=True).close()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            status, body = get(ip, req["path"])
            out = {"status": status, "len": len(body)}
        except OSError as e:
            out = {"status": "error", "error": str(e)}
        print(json.dumps(out), flush=True)


def echo(ip):
    c = connect(ip, 7, first=True)
    for line in sys.stdin:
        print("ok" if echo_once(c, line.encode()) else "bad", flush=True)


def one(ip, kind, c):
    if kind == "echo":
        return echo_once(c, b"x" * 64)
    if kind == "static":
        return len(get(ip, "/index.html")[1]) == 1024
    if kind == "64k":
        return len(get(ip, "/64k.bin")[1]) == 65536
    s = connect(ip, 8080)
    n = len(read_all(s))
    s.close()
    return n == 65536


def measure(ip, kind, secs):
    c = connect(ip, 7, first=True) if kind == "echo" else None
    if kind != "echo":
        connect(ip, 8080 if kind == "64k-raw" else 80, first=True).close()
    lat, fails = [], 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        t = time.monotonic()
        try:
            ok = one(ip, kind, c)
        except OSError:
            ok = False
        if ok:
            lat.append(time.monotonic() - t)
        else:
            fails += 1
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0

    print(json.dumps({"n": len(lat), "fails": fails, "rps": len(lat) / secs,
                      "p50": pct(0.5), "p90": pct(0.9)}))


if __name__ == "__main__":
    ip, mode = sys.argv[1], sys.argv[2]
    if mode == "requests":
        requests(ip)
    elif mode == "echo":
        echo(ip)
    else:
        measure(ip, sys.argv[3], float(sys.argv[4]))
