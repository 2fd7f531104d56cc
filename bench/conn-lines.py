#!/usr/bin/env python3
"""conn-lines.py - the cache lines the shim touches for each connection.

What: on a VM without hardware counters, what a short connection costs
under the shim beyond plain libc is mostly memory gone cold between one
connection and the next (docs/benchmarks.md, run L: 64 extra cold lines a
connection cost 3-7%).  Timing cannot resolve a change of a few lines;
this counts them.  It runs `zcrecv --seq N` under the shim inside
valgrind's lackey (every instruction and data access of the process),
cuts the trace at each call of the shim's socket(), and for the
connections in the middle counts the distinct 64-byte lines of the
shim's own code it executed and of the data its code loaded or stored:
by function, and data also by where it lives (the library's globals by
symbol, the stack, other mappings).  The same binary, environment and
traffic give the same count (valgrind counts, it does not time).

Preconditions: `make all helpers`; valgrind (tools/deps.sh test).

Run: bench/conn-lines.py [--build build] [--lib LIB] [--size 16K]
         [--conns 20] [--sender plain|zerocopy] [--mss N] [--mode auto]
         [--top 12] [--server]
"""
import argparse
import bisect
import collections
import os
import re
import subprocess
import sys
import tempfile

import connopts


def args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    connopts.add_traffic(p, "16K", 20)
    p.add_argument("--lib", help="the library to count (default BUILD/libzcshim.so)")
    p.add_argument("--mode", default="auto")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--server", action="store_true",
                   help="count a server accepting the connections (zcrecv --accept), not a client")
    return p.parse_args()


def trace(a, lib, tmp):
    """Runs the receiver under lackey (a client, or with --server a server
    that a zcsend client connects to); returns (lackey log, ld.so's log)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCSHIM_")}
    env.pop("LD_PRELOAD", None)
    env.update(ZCSHIM_MODE=a.mode, LD_DEBUG="files")
    if lib:
        env["LD_PRELOAD"] = lib
    lk, ld = f"{tmp}/lackey-{bool(lib)}.log", f"{tmp}/ld-{bool(lib)}.log"
    vg = ["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-file={lk}", f"{a.build}/helpers/zcrecv",
          "--size", "256K", "--no-check"]
    send = [f"{a.build}/helpers/zcsend", "--bytes", a.size, "--mode", a.sender, "--mss", a.mss]
    with open(ld, "w") as err:
        if a.server:
            rcv = subprocess.Popen(vg + ["--mss", a.mss, "--accept", str(a.conns)], env=env, stderr=err,
                                   stdout=subprocess.PIPE, text=True)
            port = rcv.stdout.readline().split()[1]	# "PORT p"
            subprocess.run(send + ["--connect", port, "--conns", str(a.conns)], check=True,
                           stdout=subprocess.DEVNULL)
            rcv.stdout.read()
            if rcv.wait():
                sys.exit("conn-lines: the server failed")
            return lk, ld
        snd = subprocess.Popen(send + ["--serve-forever"], stdout=subprocess.PIPE, text=True)
        try:
            port = snd.stdout.readline().split()[1]	# "PORT p"
            subprocess.run(vg + ["--port", port, "--seq", str(a.conns)], env=env, stderr=err,
                           stdout=subprocess.DEVNULL, check=True)
        finally:
            snd.kill()
    return lk, ld


def objects(ld):
    """The objects ld.so loaded in the traced process, {name: (base, size)}:
    the last load of each (valgrind's launcher loads the preload too)."""
    objs, name = {}, None
    for line in open(ld, errors="replace"):
        m = re.search(r"file=(\S+) \[0\];  generating link map", line)
        if m:
            name = os.path.basename(m.group(1))
            continue
        m = re.search(r"base: 0x([0-9a-f]+)\s+size: 0x([0-9a-f]+)", line)
        if m and name:
            objs[name] = (int(m.group(1), 16), int(m.group(2), 16))
        name = None
    return objs


class Symbols:
    """An object's symbols (nm; -D for one without a symbol table)."""
    def __init__(self, path):
        rows = []
        for flags in (["-n", "-S"], ["-n", "-S", "-D"]):
            out = subprocess.run(["nm"] + flags + [path], capture_output=True, text=True).stdout
            for line in out.splitlines():
                f = line.split()
                if len(f) == 4 and f[2] in "TtWiDdBbRrVv":
                    rows.append((int(f[0], 16), f[3].split("@")[0]))
                elif len(f) == 3 and f[1] in "TtWiDdBbRrVv":
                    rows.append((int(f[0], 16), f[2].split("@")[0]))
            if rows:
                break
        rows.sort()
        self.rows, self.starts = rows, [r[0] for r in rows]
        self.by_name = {n: a for a, n in rows}

    def name(self, off):
        i = bisect.bisect_right(self.starts, off) - 1
        return self.rows[i][1] if i >= 0 else "?"


class Places:
    """Names an address: object and symbol, the stack, or a mapping."""
    def __init__(self, objs, paths):
        self.spans = sorted((b, b + s, n) for n, (b, s) in objs.items())
        self.syms = {n: Symbols(p) for n, p in paths.items() if n in objs}

    def obj(self, addr):
        for lo, hi, n in self.spans:
            if lo <= addr < hi:
                return n, addr - lo
        if addr >= 0x1000000000:	# valgrind puts the client's stack up there
            return "stack", 0
        return "program or mapping", 0

    def sym(self, addr):
        n, off = self.obj(addr)
        return f"{n}:{self.syms[n].name(off)}" if n in self.syms else n


def syscall_sites(objs, paths):
    """Addresses of the syscall instructions of the objects in paths."""
    sites = set()
    for n, p in paths.items():
        if n not in objs:
            continue
        out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", p], capture_output=True, text=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 2 and f[1] == "syscall" and f[0].endswith(":"):
                sites.add(objs[n][0] + int(f[0][:-1], 16))
    return sites


def census(lk, start, sites):
    """Per connection (cut at each entry to libc's socket(), or accept4()
    for a server): the sets of
    code and data lines, each line with the address that first touched it
    and (data) the instruction that did; and the lines touched between
    two system calls, summed over the connection (what it touches again
    after each call, where the call's kernel work evicts it)."""
    conns, code, data, since, resumed = [], {}, {}, set(), 0
    ip = 0
    for line in open(lk, errors="replace"):
        if line[0] == "I":
            ip = int(line[3:line.index(",")], 16)
            if ip == start:
                conns.append((code, data, resumed + len(since)))
                code, data, since, resumed = {}, {}, set(), 0
            if ip in sites:
                resumed += len(since)
                since = set()
            code.setdefault(ip >> 6, ip)
            since.add(ip >> 6)
        elif line[0] == " " and line[1] in "LSM":
            addr = int(line[3:line.index(",")], 16)
            data.setdefault(addr >> 6, (addr, ip))
            since.add(addr >> 6)
    conns.append((code, data, resumed + len(since)))
    return conns[1:]	# before the first socket(): start-up


def run(a, lib, paths, tmp):
    lk, ld = trace(a, lib, tmp)
    objs = objects(ld)
    places = Places(objs, paths)
    libc = objs["libc.so.6"][0] + places.syms["libc.so.6"].by_name["accept4" if a.server else "socket"]
    conns = census(lk, libc, syscall_sites(objs, paths))
    # The first few connections meet cold start-up paths, the last one exit.
    return places, conns[4:-1] if len(conns) > 6 else conns


def libc_path(prog):
    out = subprocess.run(["ldd", prog], capture_output=True, text=True, check=True).stdout
    return re.search(r"libc\.so\.6 => (\S+)", out).group(1)


def per_conn(conns, places, pick):
    """Lines a connection, summed by pick(place, line) over the connections."""
    c = collections.Counter()
    for code, data, _ in conns:
        for ip in code.values():
            c[pick("code", places, ip, ip)] += 1
        for addr, ip in data.values():
            c[pick("data", places, addr, ip)] += 1
    return {k: v / len(conns) for k, v in c.items()}


def by_object(kind, places, addr, ip):
    return f"{kind} {places.obj(addr)[0]}"


def by_shim_symbol(kind, places, addr, ip):
    """The shim's lines: code by function; data by where it lives, and the
    shim's function (or the libc function it called) that touched it."""
    where = places.obj(addr)[0]
    if where == "libzcshim.so" and kind == "code":
        return "code " + places.sym(addr)
    if kind == "code":
        return f"code {places.sym(addr)}"
    return f"data {places.sym(addr) if where != 'stack' else 'stack'} (by {places.sym(ip)})"


def table(title, none, shim, top):
    keys = sorted(set(none) | set(shim), key=lambda k: -(shim.get(k, 0) - none.get(k, 0)))
    print(f"{title:<64} {'plain':>7} {'shim':>7} {'+':>7}")
    for k in keys[:top]:
        n, s = none.get(k, 0), shim.get(k, 0)
        if abs(s - n) >= 0.05:
            print(f"  {k[:62]:<62} {n:7.1f} {s:7.1f} {s - n:+7.1f}")


def main():
    a = args()
    lib = os.path.abspath(a.lib or f"{a.build}/libzcshim.so")
    paths = {"libzcshim.so": lib, "libc.so.6": libc_path(f"{a.build}/helpers/zcrecv")}
    with tempfile.TemporaryDirectory() as tmp:
        p0, none = run(a, None, paths, tmp)
        p1, shim = run(a, lib, paths, tmp)
    def total(conns):
        return (sum(len(c) for c, _, _ in conns) / len(conns), sum(len(d) for _, d, _ in conns) / len(conns))

    def pages(conns):
        return sum(len({line >> 6 for line in list(c) + list(d)}) for c, d, _ in conns) / len(conns)

    def pages_by(conns, places):
        c = collections.Counter()
        for code, data, _ in conns:
            for p in {ip >> 12 for ip in code.values()}:
                c["code " + places.obj(p << 12)[0]] += 1
            for p in {a >> 12 for a, _ in data.values()}:
                c["data " + places.obj(p << 12)[0]] += 1
        return {k: v / len(conns) for k, v in c.items()}

    def resumed(conns):
        return sum(r for _, _, r in conns) / len(conns)
    (c0, d0), (c1, d1) = total(none), total(shim)
    print(f"{lib}: {'a server, ' if a.server else ''}ZCSHIM_MODE={a.mode}, {a.conns} x {a.size} from a {a.sender} sender; "
          f"{len(shim)} connections counted")
    print(f"lines a connection: plain code {c0:.1f} data {d0:.1f}; shim code {c1:.1f} data {d1:.1f}; "
          f"shim adds {c1 + d1 - c0 - d0:+.1f}")
    print(f"4 KiB pages a connection: plain {pages(none):.1f}, shim {pages(shim):.1f}; "
          f"shim adds {pages(shim) - pages(none):+.1f}")
    print(f"lines touched after each system call, a connection: plain {resumed(none):.1f}, "
          f"shim {resumed(shim):.1f}; shim adds {resumed(shim) - resumed(none):+.1f}")
    table("by object", per_conn(none, p0, by_object), per_conn(shim, p1, by_object), 40)
    table("4 KiB pages by object", pages_by(none, p0), pages_by(shim, p1), 40)
    table("by symbol", per_conn(none, p0, by_shim_symbol), per_conn(shim, p1, by_shim_symbol), a.top)


if __name__ == "__main__":
    main()
