#!/bin/sh
# fuzz.sh BUILD SECONDS - builds the libFuzzer targets with clang
# (ASan+UBSan), makes seeds from real segments, runs each target for
# SECONDS, and fails on any finding (crash files land in BUILD/fuzz/).
set -eu
b=$1; secs=$2
f=$b/fuzz
mkdir -p "$f/corpus/segment" "$f/corpus/config" "$f/seeds"
CC=${FUZZ_CC:-clang}
flags="-std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Icommon -Ishim -Itools/zcstat"
$CC $flags -o "$f/fuzz_segment" tests/fuzz/fuzz_segment.c tools/zcstat/zcprom.c tools/zcstat/segs.c tools/zcstat/zcdoctor.c tools/zcstat/znl.c tools/zcstat/zccost.c common/segread.c common/segfmt.c common/statdir.c common/kzc.c common/zfmt.c -lmnl -pthread
$CC $flags -o "$f/fuzz_config" tests/fuzz/fuzz_config.c shim/config.c shim/log.c common/zfmt.c common/size.c

# Seeds: real segments (small slot table, call sites on) and config strings.
seeddir=$(mktemp -d)
chmod 700 "$seeddir"
ZCSHIM_STATS_DIR=$seeddir ZCSHIM_SESSION=seed ZCSHIM_SLOTS=4 ZCSHIM_CALLSITES=1 \
	LD_PRELOAD=$PWD/$b/libzcshim.so "$b/helpers/zcsem" residue >/dev/null
cp "$seeddir"/*.zcs "$f/corpus/segment/" 2>/dev/null || true
rm -rf "$seeddir"
for s in 4096 64k 2M 1GiB 0 yes off debug warn "" 99999999999999999999 7x; do
	printf '%s' "$s" >"$f/corpus/config/$(printf '%s' "$s" | cksum | cut -d' ' -f1)"
done

for t in segment config; do
	# past crashes first: each must now pass
	regs=$(ls tests/fuzz/regressions/$t/* 2>/dev/null || true)
	if [ -n "$regs" ]; then
		echo "fuzz: replaying $(echo "$regs" | wc -l) $t regression(s)"
		# shellcheck disable=SC2086
		"$f/fuzz_$t" $regs >/dev/null 2>&1 || { echo "fuzz: a $t regression crashes again"; exit 1; }
	fi
	echo "fuzz: $t for ${secs}s"
	(cd "$f" && ./fuzz_$t -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=./crash-$t- \
		corpus/$t 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|crash-' || true)
	if ls "$f"/crash-$t-* >/dev/null 2>&1; then
		echo "fuzz: $t FOUND A CRASH: $(ls "$f"/crash-$t-*); kept in tests/fuzz/regressions/$t/"
		cp "$f"/crash-$t-* tests/fuzz/regressions/$t/
		exit 1
	fi
done
sh tests/scripts/fuzz-hooks.sh "$b" "$secs" || exit 1
echo "fuzz: no findings"
