#!/bin/sh
# demo.sh BUILD - an unmodified program receiving under the shim.
#
# bash opens a TCP connection with /dev/tcp, and plain `cat` (exec'd with
# the socket inherited as stdin) reads it; zcsend serves 256 MiB of a known
# pattern with MSG_ZEROCOPY at MSS 4108, so every page is mappable.  zcrecv
# checks every byte cat wrote to the pipe, and zcstat prints what the shim
# counted: bytes mapped vs copied, per process and per fd.  Then the same
# with a plain send() sender, whose data the kernel cannot map.
set -eu
b=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {
	mode=$1; shift
	mkfifo "$tmp/port.$mode"
	"$b/helpers/zcsend" --bytes 256M --mode "$mode" "$@" >"$tmp/port.$mode" &
	read -r _ port <"$tmp/port.$mode"	# blocks until the sender listens
	echo "== sender: $mode $* on 127.0.0.1:$port; receiver: cat under zcstat"
	"$b/zcstat" -- bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat <&3 | '$b/helpers/zcrecv' --fd 0 --expect 256M"
	wait
	echo
}

run zerocopy --mss 4108
run plain
