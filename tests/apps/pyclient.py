#!/usr/bin/env python3
"""Python receivers for the real-program tests.

    pyclient.py blocking PORT   socket.recv_into a 1 MiB bytearray until EOF
    pyclient.py asyncio PORT    asyncio streams, reader.read(1 MiB) until EOF

Both connect to 127.0.0.1:PORT and copy everything received to stdout,
where zcrecv checks it.  Run under the shim, they show that CPython's
socket calls (recv_into -> recv, asyncio's sock_recv -> recv) go through
the hooks.
"""
import asyncio
import socket
import sys


def blocking(port):
    out = sys.stdout.buffer
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with socket.create_connection(("127.0.0.1", port)) as s:
        while True:
            n = s.recv_into(buf)
            if not n:
                break
            out.write(view[:n])
    out.flush()


async def streams(port):
    out = sys.stdout.buffer
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 21)
    while True:
        chunk = await reader.read(1 << 20)
        if not chunk:
            break
        out.write(chunk)
    out.flush()
    writer.close()
    await writer.wait_closed()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "blocking":
        blocking(port)
    elif mode == "asyncio":
        asyncio.run(streams(port))
    else:
        sys.exit("usage: pyclient.py blocking|asyncio PORT")


if __name__ == "__main__":
    main()
