#!/bin/sh
# tsan.sh BUILD - ThreadSanitizer builds of the threaded programs run under
# the shim: zcstress (threads connecting, reading, dup'ing, closing,
# forking) for 10 s, and zcrecv with 4 threads reading one socket.  Any
# TSan report fails the run (halt_on_error).
set -eu
b=$1
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
echo "tsan: zcstress-tsan 10 4 under the shim"
"$b/zcstat" -- "$b/zcstress-tsan" 10 4
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
"$b/zcsend" --bytes 128M --mode zerocopy --mss 4108 >"$tmp" &
while ! grep -q PORT "$tmp"; do sleep 0.05; done	# the sender prints its port once listening
port=$(sed -n 's/PORT //p' "$tmp")
echo "tsan: zcrecv-tsan --threads 4 under the shim"
"$b/zcstat" -- "$b/zcrecv-tsan" --port "$port" --threads 4 --expect 128M
wait
echo "tsan: no reports"
