#!/bin/sh
# check-symbols.sh LIB SYM... - the library's dynamic symbol table exports
# exactly the listed hooks: nothing missing, nothing extra.
set -eu
lib=$1; shift
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWiV]$/ {print $3}' | sed 's/@.*//' | sort -u)
want=$(printf '%s\n' "$@" | sort -u)
if [ "$got" != "$want" ]; then
	echo "check-symbols: FAIL: $lib exports differ from the hook list" >&2
	echo "  extra:   $(printf '%s\n' "$got" | comm -23 - "$(printf '%s\n' "$want" >/tmp/zcw.$$; echo /tmp/zcw.$$)" | tr '\n' ' ')" >&2
	echo "  missing: $(printf '%s\n' "$want" | comm -23 - "$(printf '%s\n' "$got" >/tmp/zcg.$$; echo /tmp/zcg.$$)" | tr '\n' ' ')" >&2
	rm -f /tmp/zcw.$$ /tmp/zcg.$$
	exit 1
fi
echo "check-symbols: $lib exports exactly $(printf '%s\n' "$got" | wc -l) hooks: $(echo $got)"
