#!/bin/sh
# run.sh BUILD TEST... - runs each Criterion suite, prints its summary, and
# ends with one line "N passed, M failed" over all suites; exits 1 if any
# test failed or crashed.
b=$1; shift
pass=0; fail=0
for t in "$@"; do
	out=$(ZCSHIM_BUILD="$b" "$b/$t" --jobs 2 2>&1); rc=$?
	printf '%s\n' "$out" | grep -E '^\[----\]|FAIL|Crash|Assertion|Timed out|Synthesis' | grep -v '^\[----\] Criterion' >&2
	syn=$(printf '%s\n' "$out" | grep 'Synthesis' | tail -1)
	p=$(printf '%s' "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(printf '%s' "$syn" | sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p')
	[ -n "$p" ] || { echo "$t: no summary (exit $rc)"; printf '%s\n' "$out" | tail -20; fail=$((fail + 1)); continue; }
	pass=$((pass + p))
	for x in $f; do fail=$((fail + x)); done
	[ "$rc" = 0 ] || [ -n "$f" ] || fail=$((fail + 1))
done
echo "tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
