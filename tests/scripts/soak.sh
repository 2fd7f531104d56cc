#!/bin/sh
# soak.sh BUILD SECONDS - zcstress under the shim for SECONDS: many
# connections, mixed sizes and calls, random closes, dups, threads and
# forks.  Passes only if no byte was corrupt, no fd was left and each
# window kept under 64 KiB of socket-mapped pages at the end (zcstress
# checks /proc itself), and the shim's counters for the process equal the
# bytes it says it read.
set -eu
b=$1; secs=$2
json=$(mktemp); out=$(mktemp)
trap 'rm -f "$json" "$out"' EXIT
echo "soak: ${secs}s of zcstress under the shim"
"$b/zcstat" --json -o "$json" -- "$b/helpers/zcstress" "$secs" 4 >"$out"
cat "$out"
pid=$(sed -n 's/^pid=\([0-9]*\) bytes=.*/\1/p' "$out")
want=$(sed -n 's/^pid=[0-9]* bytes=\([0-9]*\)/\1/p' "$out")
# the process's own totals: the first counters after its "pid":PID
got=$(python3 - "$json" "$pid" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = [p for p in r["processes"] if p["pid"] == int(sys.argv[2])][0]
print(p["totals"]["bytes_mapped"] + p["totals"]["bytes_copied"], p["totals"]["mapped_pct"], len(r["processes"]))
PY
)
set -- $got
echo "soak: the program read $want bytes; the shim counted $1 ($2% mapped), over $3 processes with forks"
[ "$1" = "$want" ] || { echo "soak: FAIL: counters disagree"; exit 1; }
echo "soak: ok"
