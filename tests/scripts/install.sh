#!/bin/sh
# install.sh make|deb BUILD - install zcshim, run a transfer from the
# installed paths only, remove it, and check nothing is left behind.
#   make: make install PREFIX=<tmp> DESTDIR=, then make uninstall;
#   deb:  make deb, dpkg -i both packages, then dpkg -r and dpkg -P
#         (root only; prints "skip: ..." and exits 0 otherwise).
# The transfer: build/helpers/zcsend (the peer, MSG_ZEROCOPY at MSS 4108) to cat on
# a bash /dev/tcp socket under the installed `zcshim --stats`, with a PATH
# of /usr/bin:/bin and no LD_LIBRARY_PATH; the report must show mapped
# bytes.  Prints "ok" last on success.
set -eu
how=$1 b=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

transfer() {	# $1: the installed zcshim
	mkfifo "$tmp/port"
	"$b/helpers/zcsend" --bytes 32M --mode zerocopy --mss 4108 >"$tmp/port" &
	read -r _ port <"$tmp/port"
	rm -f "$tmp/port"
	env -i PATH=/usr/bin:/bin HOME="$tmp" "$1" --stats -- \
		bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat <&3 >/dev/null" 2>"$tmp/report"
	wait
	cat "$tmp/report"
	pct=$(sed -n 's/.*MiB mapped (\([0-9]*\)\..*/\1/p' "$tmp/report" | head -1)
	[ "${pct:-0}" -ge 90 ] || { echo "FAIL: under 90% mapped"; exit 1; }
}

case $how in
make)
	prefix=$tmp/prefix
	make -s install PREFIX="$prefix" DESTDIR= >/dev/null
	for f in bin/zcshim bin/zcstat bin/zcsink lib/zcshim/libzcshim.so include/zcshim.h \
		 lib/pkgconfig/zcshim.pc share/man/man1/zcshim.1; do
		[ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
	done
	transfer "$prefix/bin/zcshim"
	# The API builds against the installed header and pkg-config file.
	printf '#include <zcshim.h>\nint main(void){const void *p; return (int)zcshim_recv(-1, &p, 0, 0) + 1;}\n' >"$tmp/t.c"
	PKG_CONFIG_PATH="$prefix/lib/pkgconfig" sh -c \
		'cc "$1" -o "$2" $(pkg-config --cflags --libs zcshim)' sh "$tmp/t.c" "$tmp/t" || { echo "FAIL: pkg-config build"; exit 1; }
	"$tmp/t" || { echo "FAIL: the API program does not run"; exit 1; }
	make -s uninstall PREFIX="$prefix" DESTDIR= >/dev/null
	left=$(find "$prefix" -type f -o -type l)
	[ -z "$left" ] || { echo "FAIL: left behind: $left"; exit 1; }
	;;
deb)
	if [ "$(id -u)" != 0 ]; then echo "skip: dpkg -i needs root"; exit 0; fi
	if dpkg-query -W zcshim >/dev/null 2>&1; then echo "skip: a zcshim package is already installed here"; exit 0; fi
	make -s deb >"$tmp/deb.log" 2>&1 || { tail -30 "$tmp/deb.log"; echo "FAIL: make deb"; exit 1; }
	dpkg -i "$b"/deb/zcshim_*.deb "$b"/deb/zcshim-dev_*.deb >/dev/null
	files=$(dpkg -L zcshim zcshim-dev | while read -r f; do [ -f "$f" ] && echo "$f"; done)
	transfer /usr/bin/zcshim
	dpkg -r zcshim-dev zcshim >/dev/null
	dpkg -P zcshim-dev zcshim >/dev/null
	for f in $files; do
		[ ! -e "$f" ] || { echo "FAIL: $f left after dpkg -P"; exit 1; }
	done
	! dpkg-query -W zcshim >/dev/null 2>&1 || { echo "FAIL: still known to dpkg"; exit 1; }
	;;
*) echo "usage: install.sh make|deb BUILD" >&2; exit 2 ;;
esac
echo ok
