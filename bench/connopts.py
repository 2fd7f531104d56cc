"""connopts.py - the traffic options bench/conns-ab.py and
bench/conn-lines.py share: where the helpers are, and what each
connection carries from which sender."""


def add_traffic(p, size, conns):
    p.add_argument("--build", default="build")
    p.add_argument("--size", default=size, help=f"bytes a connection (default {size})")
    p.add_argument("--conns", type=int, default=conns, help=f"connections a run (default {conns})")
    p.add_argument("--sender", default="plain", choices=["plain", "zerocopy"])
    p.add_argument("--mss", default="0", help="the sender's TCP_MAXSEG (0: the default)")
