#!/usr/bin/python3
"""The client of the end-to-end test, run in the client namespace.

usage: client.py IP requests   one JSON request per stdin line
                               ({"path": ...}), one JSON answer per line
       client.py IP echo       one line per stdin line through one TCP
                               connection to :7; prints ok or bad
       client.py IP stream     a byte stream through :7 with a window in
                               flight until stdin closes, verified byte
                               for byte and by sha256
       client.py IP measure KIND SECONDS
                               KIND echo|static|64k|64k-raw for SECONDS;
                               prints requests/s, failures, p50/p90
"""
import hashlib
import json
import select
import socket
import sys
import time


def connect(ip, port, first=False):
    """
    The first contact after boot may fail once, as a real client's may:
    the guest's first ARP answer can come after the kernel gave up on its
    three requests.  One retry, a second later, no more.
    """
    for attempt in range(2 if first else 1):
        try:
            return socket.create_connection((ip, port), timeout=60)
        except OSError as e:
            if not first or attempt:
                raise
            print("client: first contact failed once: %s" % e,
                  file=sys.stderr, flush=True)
            time.sleep(1)


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


def pattern(off, n):
    """Bytes [off, off + n) of the stream: never the same twice in 2^32."""
    out = bytearray()
    while n:
        block = off // 4096
        seed = hashlib.sha256(b"%d" % block).digest() * 128
        take = min(n, 4096 - off % 4096)
        out += seed[off % 4096:off % 4096 + take]
        off += take
        n -= take
    return bytes(out)


def stream(ip):
    """
    One connection to :7, a window of bytes in flight, until stdin
    closes: what comes back must be exactly what was sent, in order
    (checked chunk by chunk, and sha256 of each side at the end).
    Prints one JSON line.
    """
    c = connect(ip, 7, first=True)
    c.settimeout(60)
    window, chunk = 64 * 1024, 4096
    sent = recvd = bad = 0
    tx, rx = hashlib.sha256(), hashlib.sha256()
    sending = True
    try:
        while sending or recvd < sent:
            if sending and sent - recvd < window:
                data = pattern(sent, chunk)
                c.sendall(data)
                tx.update(data)
                sent += len(data)
            ready = select.select([c, sys.stdin] if sending else [c], [],
                                  [], 60)[0]
            if sys.stdin in ready and not sys.stdin.readline():
                sending = False
            if c not in ready:
                if not ready:
                    raise OSError("no answer for 60 s")
                continue
            got = c.recv(65536)
            if not got:
                raise OSError("connection closed")
            bad += got != pattern(recvd, len(got))
            rx.update(got)
            recvd += len(got)
    except OSError as e:
        print("client: stream: %s" % e, file=sys.stderr, flush=True)
    print(json.dumps({"sent": sent, "received": recvd, "bad_chunks": bad,
                      "same": sent == recvd and tx.digest() == rx.digest()}),
          flush=True)


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
    elif mode == "stream":
        stream(ip)
    else:
        measure(ip, sys.argv[3], float(sys.argv[4]))
