#!/bin/sh
# tsan.sh BUILD - ThreadSanitizer on the shim and the threaded programs
# using it.  The shim is built with TSan too and preloaded behind libtsan
# (LD_PRELOAD="libtsan.so libzcshim-tsan.so"), so TSan sees the shim's own
# locks and atomics.  Runs: zcstress (threads connecting, reading,
# dup'ing, closing, forking) for 10 s; zcrecv with 4 threads on one
# socket; a blocking echo server with 12 client threads.  Any report fails
# the run (halt_on_error).
set -eu
b=$1
libtsan=$(gcc -print-file-name=libtsan.so)
shim=$(realpath "$b/libzcshim-tsan.so")
dir=$(mktemp -d); chmod 700 "$dir"
tmp=$(mktemp)
trap 'rm -rf "$dir" "$tmp"' EXIT
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0"
run() { LD_PRELOAD="$libtsan $shim" ZCSHIM_STATS_DIR="$dir" "$@"; }

echo "tsan: zcstress-tsan 10 4"
run "$b/helpers/zcstress-tsan" 10 4

"$b/helpers/zcsend" --bytes 128M --mode zerocopy --mss 4108 >"$tmp" &
while ! grep -q PORT "$tmp"; do sleep 0.05; done	# the sender prints its port once listening
port=$(sed -n 's/PORT //p' "$tmp")
echo "tsan: zcrecv-tsan --threads 4"
run "$b/helpers/zcrecv-tsan" --port "$port" --threads 4 --expect 128M
wait

: >"$tmp"
run "$b/helpers/zcecho-tsan" server blocking --conns 12 >"$tmp" &
srv=$!
while ! grep -q PORT "$tmp"; do sleep 0.05; done
port=$(sed -n 's/PORT //p' "$tmp")
echo "tsan: zcecho-tsan server blocking, 12 connections"
"$b/helpers/zcecho" client "$port" --bytes 8M --conns 12
wait $srv
echo "tsan: no reports"
