#!/bin/bash
# daemons.sh BUILD [PAIRS] - the daemons of #23 receiving, without and with
# the shim: the server's CPU (user+sys, from /proc/PID/stat around the
# transfer) per MB received, and the transfer's throughput, alternating
# plain and shim for PAIRS pairs (default 5); medians of the per-pair
# ratios.  The client (tests/helpers/zcput, MSG_ZEROCOPY at MSS 4108) runs
# on CPU 0, the daemon on CPU 1.  Rows: redis-server taking SETs of 8 MiB,
# nginx taking PUTs of 16 MiB to a WebDAV location.  Daemons missing from
# the machine are skipped with a line saying so (make test installs them).
set -u
b=${1:-build}
pairs=${2:-5}
lib=$(realpath "$b/libzcshim.so")
zcput=$b/helpers/zcput
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PATH=$PATH:/usr/sbin

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# CPU time (ns) the task has run: its schedstat, finer than /proc/PID/stat's ticks.
ticks() { awk '{print $1}' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# One run: $1 plain|shim, $2 daemon; prints "cpu_ms_per_mb mb_per_s".
run() {
	local how=$1 what=$2 port pid t0 c0 t1 c1 mb env=()
	port=$(free_port)
	[ "$how" = shim ] && env=(LD_PRELOAD="$lib" ZCSHIM_STATS_DIR="$tmp")
	case $what in
	redis)
		coproc D { exec env "${env[@]}" taskset -c 1 redis-server --port "$port" --bind 127.0.0.1 --save '' \
			--appendonly no --protected-mode no --logfile '' --daemonize no; }
		pid=$D_PID
		grep -m1 -q 'Ready to accept' <&"${D[0]}"	# its own line says when it listens
		c0=$(ticks $pid); t0=$(now)
		for i in $(seq 32); do
			taskset -c 0 "$zcput" --port "$port" --mode zerocopy --mss 4108 --bytes 8388608 \
				--head "*3\r\n\$3\r\nSET\r\n\$2\r\nk$((i % 8))\r\n\$8388608\r\n" --tail '\r\n' --expect '+OK' >/dev/null
		done
		t1=$(now); c1=$(ticks $pid); mb=268.435456
		kill $pid; wait $pid 2>/dev/null ;;
	nginx)
		mkdir -p "$tmp/ngx/dav"
		printf 'daemon off; user root; worker_processes 1; error_log stderr notice; pid %s/pid;\nevents { worker_connections 64; }\nhttp { access_log off; client_max_body_size 0; client_body_buffer_size 1m;\nclient_body_temp_path %s/b; proxy_temp_path %s/p; fastcgi_temp_path %s/f; uwsgi_temp_path %s/u; scgi_temp_path %s/s;\nserver { listen 127.0.0.1:%s; location /dav/ { root %s; dav_methods PUT; } } }\n' \
			"$tmp/ngx" "$tmp/ngx" "$tmp/ngx" "$tmp/ngx" "$tmp/ngx" "$tmp/ngx" "$port" "$tmp/ngx" >"$tmp/ngx/nginx.conf"
		coproc D { exec env "${env[@]}" taskset -c 1 nginx -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf" 2>&1; }
		local master=$D_PID line
		# "start worker process N": it listens, and N is the one that reads.
		while read -r line <&"${D[0]}"; do
			case $line in *"start worker process "*) pid=${line##* }; break ;; esac
		done
		c0=$(ticks $pid); t0=$(now)
		for i in $(seq 16); do
			taskset -c 0 "$zcput" --port "$port" --mode zerocopy --mss 4108 --bytes 16777216 \
				--head "PUT /dav/f$((i % 4)) HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\nConnection: close\r\n\r\n" \
				--expect ' 201' >/dev/null
		done
		t1=$(now); c1=$(ticks $pid); mb=268.435456
		kill -QUIT $master; wait $master 2>/dev/null; rm -rf "$tmp/ngx" ;;
	esac
	rm -f "$tmp"/*.zcs
	awk -v c=$((c1 - c0)) -v mb="$mb" -v t0="$t0" -v t1="$t1" \
		'BEGIN {printf "%.4f %.1f\n", c / 1e6 / mb, mb / (t1 - t0)}'
}

printf '\ndaemons receiving (%s pairs plain/shim, client MSG_ZEROCOPY MSS 4108 on CPU 0, daemon on CPU 1; medians): server CPU and throughput\n' "$pairs"
printf '%-34s %9s %9s %8s %8s %8s\n' scenario "cpu plain" "cpu shim" "shim/" "MB/s" "tput"
printf '%-34s %9s %9s %8s %8s %8s\n' "" "ms/MB" "ms/MB" "plain" "plain" "ratio"
for what in redis nginx; do
	name="daemon $what"
	[ "$what" = redis ] && name="daemon redis-server SET 8M x32"
	[ "$what" = nginx ] && name="daemon nginx PUT 16M x16"
	if ! command -v "${what/redis/redis-server}" >/dev/null; then
		printf '%-34s not installed here\n' "$name"
		continue
	fi
	: >"$tmp/cr"; : >"$tmp/tr"; : >"$tmp/cp"; : >"$tmp/cs"; : >"$tmp/tp"
	for i in $(seq "$pairs"); do
		read -r cp tp < <(run plain $what)
		read -r cs ts < <(run shim $what)
		echo "$cp" >>"$tmp/cp"; echo "$cs" >>"$tmp/cs"; echo "$tp" >>"$tmp/tp"
		awk -v a="$cs" -v b="$cp" 'BEGIN {print (b > 0 ? a / b : 0)}' >>"$tmp/cr"
		awk -v a="$ts" -v b="$tp" 'BEGIN {print (b > 0 ? a / b : 0)}' >>"$tmp/tr"
	done
	printf '%-34s %9.4f %9.4f %8.3f %8.0f %8.3f\n' "$name" "$(median <"$tmp/cp")" "$(median <"$tmp/cs")" \
		"$(median <"$tmp/cr")" "$(median <"$tmp/tp")" "$(median <"$tmp/tr")"
done
