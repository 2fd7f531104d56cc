#!/usr/bin/env python3
"""twoports.py NA NB - one server process, two services from one host.

Listens on two ports of 127.0.0.1 (port 0 each; the second advertises MSS
4108, so a MSG_ZEROCOPY client's pages map), prints "PORTS A B", then
accepts NA connections on A and NB on B, one after another, reads each to
its end with recv_into() of 1 MiB (libc's recv: the shim's read path),
checks nothing but the byte count, and prints "A=bytes B=bytes".  For the
test that the shim learns per route, not per host: a host's unmappable
traffic to one service must not back off its mappable traffic to another.
"""
import socket
import sys

na, nb = int(sys.argv[1]), int(sys.argv[2])


def listener(mss):
    s = socket.socket()
    if mss:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


a, b = listener(0), listener(4108)
print("PORTS %d %d" % (a.getsockname()[1], b.getsockname()[1]), flush=True)
buf = bytearray(1 << 20)
got = []
for lsock, n in ((a, na), (b, nb)):
    total = 0
    for _ in range(n):
        c, _ = lsock.accept()
        while True:
            r = c.recv_into(buf)
            if r == 0:
                break
            total += r
        c.close()
    got.append(total)
print("A=%d B=%d" % tuple(got), flush=True)
