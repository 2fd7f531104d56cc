#!/bin/sh
# fuzz-hooks.sh BUILD SECONDS - the hook layer, differentially: random
# sequences of receive calls, flags, lengths, iovec shapes and signals
# (zcdiff SENDER random SEED) run without and with the shim, at two
# ZCSHIM_MIN_READ settings, for SECONDS; any difference in the transcripts
# (or a failed run) is a finding, printed with its seed so that
# `build/helpers/zcdiff SENDER random SEED` replays it.  Seeds that once failed are
# kept in tests/fuzz/regressions/hooks and replayed first.
set -u
b=$1
secs=$2
end=$(( $(date +%s) + secs ))
lib=$PWD/$b/libzcshim.so
runs=0
check() {
	plain=$(timeout 60 "$b/helpers/zcdiff" "$1" random "$2" 2>&1) || {
		echo "fuzz: hooks: plain run failed (exit $?), $1 seed $2"; printf '%s\n' "$plain" | tail -5; return 1; }
	case $plain in *BAD*) echo "fuzz: hooks: plain libc says BAD (the harness is wrong), $1 seed $2"; return 1 ;; esac
	for m in 64K 0; do
		shim=$(ZCSHIM_MIN_READ=$m LD_PRELOAD=$lib timeout 60 "$b/helpers/zcdiff" "$1" random "$2" 2>&1) || {
			echo "fuzz: hooks: shim run failed (exit $?), $1 seed $2 MIN_READ=$m"
			printf '%s\n' "$shim" | tail -5; return 1; }
		if [ "$plain" != "$shim" ]; then
			echo "fuzz: hooks: DIFFERENCE, sender $1 seed $2 MIN_READ=$m"
			printf '%s\n' "$plain" >/tmp/zcshim-fuzz-plain.txt
			printf '%s\n' "$shim" >/tmp/zcshim-fuzz-shim.txt
			diff /tmp/zcshim-fuzz-plain.txt /tmp/zcshim-fuzz-shim.txt | head -20
			echo "fuzz: hooks: replay: ZCSHIM_MIN_READ=$m LD_PRELOAD=$lib $b/helpers/zcdiff $1 random $2"
			return 1
		fi
	done
	return 0
}
for r in tests/fuzz/regressions/hooks/*; do
	[ -f "$r" ] || continue
	read -r snd seed <"$r"
	check "$snd" "$seed" || exit 1
done
while [ "$(date +%s)" -lt "$end" ]; do
	seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	for snd in plain zc zc4108; do
		runs=$((runs + 1))
		if ! check "$snd" "$seed"; then
			mkdir -p tests/fuzz/regressions/hooks
			echo "$snd $seed" >"tests/fuzz/regressions/hooks/$snd-$seed"
			exit 1
		fi
	done
done
echo "fuzz: hooks: $runs random sequences, no difference"
