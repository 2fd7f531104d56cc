#!/usr/bin/env python3
"""conns-ab.py - short connections, configurations interleaved run by run.

What: zcbench's `conns` rows compare one configuration at a time, and on
this VM a configuration's median moves by up to 2% between batches run
minutes apart.  This runs several configurations in turn within each run
(so drift hits them all alike): for each, `zcrecv --seq N --ab` against one
sender (hooked connections against raw system calls, thread CPU per byte),
divided by the same run's figure without the shim; then medians over the
runs with a bootstrap 95% interval, each configuration against no shim and
against the first configuration.

Preconditions: `make all helpers` in BUILD; CPUs 0 and 1 (sender on 0,
receiver on 1).

Run: bench/conns-ab.py [--build build] [--size 1M] [--conns 100]
         [--runs 41] [--sender plain|zerocopy] [--mss N] [--server] CONFIG...
With --server the receiver is a server (`zcrecv --accept N --ab`, libc's
accept/read/close against raw system calls) and a `zcsend --connect`
client on CPU 0 makes the connections, one client a run.
CONFIG: `map`, `auto`, or `+`-joined settings, e.g.
`auto+ZCSHIM_MIN_READ=1G` or `LIB=/tmp/other/libzcshim.so+map` (another
build of the library).
"""
import argparse
import os
import random
import re
import statistics
import subprocess
import sys

import connopts


def args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    connopts.add_traffic(p, "1M", 100)
    p.add_argument("--runs", type=int, default=41)
    p.add_argument("--server", action="store_true", help="the receiver accepts the connections")
    p.add_argument("configs", nargs="+")
    return p.parse_args()


def env_of(config, lib):
    env = dict(os.environ)
    for k in [k for k in env if k.startswith("ZCSHIM_")]:
        del env[k]
    if config == "none":
        env.pop("LD_PRELOAD", None)
        return env
    env["LD_PRELOAD"] = lib
    for kv in config.split("+"):
        k, v = kv.split("=", 1) if "=" in kv else ("ZCSHIM_MODE", kv)
        if k == "LIB":
            env["LD_PRELOAD"] = os.path.abspath(v)
        else:
            env[k] = v
    return env


def one_server(a, cmd, env):
    """A server's run: zcrecv --accept on CPU 1, one zcsend client on CPU 0."""
    rcv = subprocess.Popen(cmd + ["--accept", str(a.conns)], env=env, stdout=subprocess.PIPE, text=True)
    port = rcv.stdout.readline().split()[1]	# "PORT p"
    subprocess.run(["taskset", "-c", "0", f"{a.build}/helpers/zcsend", "--connect", port, "--conns",
                    str(a.conns), "--bytes", a.size, "--mode", a.sender, "--mss", a.mss],
                   check=True, stdout=subprocess.DEVNULL)
    out = rcv.stdout.read()
    if rcv.wait():
        sys.exit("conns-ab: the server failed")
    return out


def one_run(a, port, config, lib):
    cmd = ["taskset", "-c", "1", f"{a.build}/helpers/zcrecv", "--size", "256K", "--no-check", "--ab"]
    if a.mss != "0":
        cmd += ["--mss", a.mss]
    if a.server:
        out = one_server(a, cmd, env_of(config, lib))
    else:
        out = subprocess.run(cmd + ["--port", str(port), "--seq", str(a.conns)], env=env_of(config, lib),
                             capture_output=True, text=True, check=True).stdout
    m = re.search(r"ab_hooked_ns=(\d+) ab_hooked_bytes=(\d+) ab_raw_ns=(\d+) ab_raw_bytes=(\d+)", out)
    if not m:
        sys.exit(f"conns-ab: no A/B figures from {config}: {out}")
    h, hb, r, rb = map(int, m.groups())
    return (h / hb) / (r / rb)


def summary(ratios):
    boot = sorted(statistics.median(random.choices(ratios, k=len(ratios))) for _ in range(1000))
    return f"{statistics.median(ratios):.4f} (95% {boot[25]:.4f}-{boot[974]:.4f})"


def main():
    a = args()
    lib = os.path.abspath(f"{a.build}/libzcshim.so")
    snd = None if a.server else subprocess.Popen(
        ["taskset", "-c", "0", f"{a.build}/helpers/zcsend", "--bytes", a.size, "--mode", a.sender, "--mss", a.mss,
         "--serve-forever"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(snd.stdout.readline().split()[1]) if snd else 0	# "PORT p"
        configs = ["none"] + a.configs
        got = {c: [] for c in configs}
        for _ in range(a.runs):
            for c in configs:
                got[c].append(one_run(a, port, c, lib))
    finally:
        if snd:
            snd.kill()
    print(f"{a.runs} runs of {a.conns} x {a.size} from a {a.sender} sender"
          f"{' to a server' if a.server else ''}; receiver CPU per byte, "
          "hooked/raw under each configuration over hooked/raw without the shim; medians")
    for c in a.configs:
        print(f"{c:>40}  {summary([x / y for x, y in zip(got[c], got['none'])])}")
    first = a.configs[0]
    for c in a.configs[1:]:
        print(f"{c + ' / ' + first:>40}  {summary([x / y for x, y in zip(got[c], got[first])])}")


if __name__ == "__main__":
    main()
