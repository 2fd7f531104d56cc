#!/bin/bash
# daemons.sh BUILD [PAIRS [FILTER]] - the daemons of #23 receiving,
# without and with the shim: the receiving process's CPU per MB received
# and the transfer's throughput, plain, under the shim (map) and in
# ZCSHIM_MODE=auto in turn, PAIRS times (default 5); medians of the
# per-run ratios against the plain run before them.  Clients and senders
# run on CPU 0, the daemon on CPU 1.  Rows:
#   redis-server taking SETs of 8 MiB        (zcput: MSG_ZEROCOPY, MSS 4108)
#   nginx taking PUTs of 16 MiB to WebDAV    (zcput, the same)
#   nginx relaying PUTs by proxy_pass to a   (zcput; the upstream leg is
#     second server of its own                nginx's own plain sender)
#   haproxy relaying a stream in TCP mode    (the server behind it: zcsend,
#                                             MSG_ZEROCOPY 4108; haproxy
#                                             splices)
#   PostgreSQL taking COPY FROM STDIN        (psql: the protocol needs a real
#                                             client; a plain sender)
#   a JVM reading with NIO                   (zcsend, MSG_ZEROCOPY 4108)
# CPU: /proc/PID/schedstat of every thread (PostgreSQL: the connection's
# backend, read from its own psql session; the JVM: its reading thread, as
# the JVM measures it).  The shim's runs start the daemon under zcstat,
# whose report gives the row's mapped share (map and auto) and, where map
# copied bytes, the reason for most of them.  Daemons missing from the
# machine are skipped with a line saying so (make bench and make test
# install them).
# FILTER: only the rows whose name contains it.
set -u
b=${1:-build}
pairs=${2:-5}
filter=${3:-}
zcput=$b/helpers/zcput
zcsend=$b/helpers/zcsend
zcrecv=$b/helpers/zcrecv
zcstat=$(realpath "$b/zcstat")
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
PATH=$PATH:/usr/sbin

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# CPU time (ns) every thread of the process has run: schedstat, finer
# than /proc/PID/stat's ticks.
ticks() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.9f\n", a - b}'; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# The words that start a run's daemon ($1 plain, shim or auto): none, or
# zcstat, which preloads the shim (in ZCSHIM_MODE=auto for auto) and
# writes its report to $rep when the daemon exits.
under() {
	[ "$1" = auto ] && printf '%s\n' env ZCSHIM_MODE=auto
	[ "$1" != plain ] && printf '%s\n' "$zcstat" --json -o "$rep" --
}
# The daemon: the launcher's own pid (plain), or zcstat's one child.
daemon_of() { local c; c=$(pgrep -P "$1" | head -1); echo "${c:-$1}"; }
# "cpu_ms_per_mb mb_per_s" from CPU ns, MB and the wall seconds.
figures() { awk -v c="$1" -v mb="$2" -v s="$3" 'BEGIN {printf "%.4f %.1f\n", c / 1e6 / mb, mb / s}'; }

run_redis() {
	local port pid t0 c0 t1 c1
	port=$(free_port)
	coproc D { exec taskset -c 1 $(under "$1") redis-server --port "$port" --bind 127.0.0.1 --save '' \
		--appendonly no --protected-mode no --logfile '' --daemonize no; }
	local runner=$D_PID
	grep -m1 -q 'Ready to accept' <&"${D[0]}"	# its own line says when it listens
	pid=$(daemon_of $runner)
	c0=$(ticks $pid); t0=$(now)
	for i in $(seq 32); do
		taskset -c 0 "$zcput" --port "$port" --mode zerocopy --mss 4108 --bytes 8388608 \
			--head "*3\r\n\$3\r\nSET\r\n\$2\r\nk$((i % 8))\r\n\$8388608\r\n" --tail '\r\n' --expect '+OK' >/dev/null
	done
	t1=$(now); c1=$(ticks $pid)
	kill $pid; wait $runner 2>/dev/null
	figures $((c1 - c0)) 268.435456 "$(sub "$t1" "$t0")"
}

# $1 plain|shim, $2 dav|relay: 16 PUTs of 16 MiB, straight to the WebDAV
# location or to one that relays them by proxy_pass to the WebDAV location
# of a second server (another port, the same worker: its upstream leg is
# nginx's own plain sender, its client leg zcput's).
run_nginx() {
	local port up pid t0 c0 t1 c1 line d=$tmp/ngx
	port=$(free_port); up=$(free_port)
	mkdir -p "$d/dav"
	printf 'daemon off; user root; worker_processes 1; error_log stderr notice; pid %s/pid;\nevents { worker_connections 64; }\nhttp { access_log off; client_max_body_size 0; client_body_buffer_size 1m;\nclient_body_temp_path %s/b; proxy_temp_path %s/p; fastcgi_temp_path %s/f; uwsgi_temp_path %s/u; scgi_temp_path %s/s;\nserver { listen 127.0.0.1:%s; location /dav/ { root %s; dav_methods PUT; }\nlocation /relay/ { proxy_pass http://127.0.0.1:%s/dav/; proxy_http_version 1.1; proxy_request_buffering off; } }\nserver { listen 127.0.0.1:%s; location /dav/ { root %s; dav_methods PUT; } } }\n' \
		"$d" "$d" "$d" "$d" "$d" "$d" "$port" "$d" "$up" "$up" "$d" >"$d/nginx.conf"
	coproc D { exec taskset -c 1 $(under "$1") nginx -p "$d" -c "$d/nginx.conf" 2>&1; }
	local runner=$D_PID
	# "start worker process N": it listens, and N is the one that reads.
	while read -r line <&"${D[0]}"; do
		case $line in *"start worker process "*) pid=${line##* }; break ;; esac
	done
	c0=$(ticks $pid); t0=$(now)
	for i in $(seq 16); do
		taskset -c 0 "$zcput" --port "$port" --mode zerocopy --mss 4108 --bytes 16777216 \
			--head "PUT /$2/f$((i % 4)) HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\nConnection: close\r\n\r\n" \
			--expect ' 201' >/dev/null
	done
	t1=$(now); c1=$(ticks $pid)
	kill -QUIT "$(cat "$d/pid")"; wait $runner 2>/dev/null; rm -rf "$d"
	figures $((c1 - c0)) 268.435456 "$(sub "$t1" "$t0")"
}

# 4 streams of 64 MiB from a MSG_ZEROCOPY server through haproxy (TCP
# mode, splice both ways, one thread, in the foreground so that zcstat
# sees it exit) to zcrecv.
run_haproxy() {
	local port pid t0 c0 t1 c1 d=$tmp/hap
	port=$(free_port)
	mkdir -p "$d"
	# The server behind it: not a second coproc (bash runs one at a time).
	exec 4< <(exec taskset -c 0 "$zcsend" --bytes 64M --mode zerocopy --mss 4108 --serve-forever)
	local spid=$! bport
	read -r _ bport <&4
	printf 'global\n  maxconn 64\n  nbthread 1\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  option splice-request\n  option splice-response\nfrontend f\n  bind 127.0.0.1:%s\n  default_backend b\nbackend b\n  server s1 127.0.0.1:%s\n' \
		"$port" "$bport" >"$d/h.cfg"
	coproc H { exec taskset -c 1 $(under "$1") haproxy -db -q -f "$d/h.cfg"; }
	local runner=$H_PID
	# It says nothing when it listens: until its port does.
	until ss -Hltn "sport = :$port" | grep -q .; do sleep 0.01; done
	pid=$(daemon_of $runner)
	c0=$(ticks $pid); t0=$(now)
	for i in 1 2 3 4; do
		taskset -c 0 "$zcrecv" --port "$port" --expect 64M --size 1M --no-check >/dev/null
	done
	t1=$(now); c1=$(ticks $pid)
	kill $pid; wait $runner 2>/dev/null; kill $spid; exec 4<&-; rm -rf "$d"
	figures $((c1 - c0)) 268.435456 "$(sub "$t1" "$t0")"
}

# psql's \copy of 64 MiB of text into a table; the backend's CPU as its
# schedstat says, read from the same session.  Runs as postgres
# (PostgreSQL refuses root); the database is made once, by pg_setup.
pg_setup() {
	PG=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
	[ -n "$PG" ] || return 1
	mkdir -p "$tmp/pg" && chown postgres "$tmp/pg"
	runuser -u postgres -- "$PG/initdb" -D "$tmp/pg/db" -A trust -U postgres >/dev/null || return 1
	"$zcsend" --stdout --bytes 48M | base64 -w 1000 >"$tmp/pg/in.txt"
}
run_postgres() {
	local port t0 c0 t1 c1 mb
	port=$(free_port)
	coproc D { exec runuser -u postgres -- taskset -c 1 $(under "$1") \
		"$PG/postgres" -D "$tmp/pg/db" -p "$port" -k "$tmp/pg" -c listen_addresses=127.0.0.1 -c autovacuum=off \
		-c fsync=off 2>&1; }
	local runner=$D_PID
	grep -m1 -q 'ready to accept connections' <&"${D[0]}"
	local q=(taskset -c 0 psql -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
	"${q[@]}" -c 'DROP TABLE IF EXISTS t' -c 'CREATE TABLE t (line text)' >/dev/null 2>&1
	# One session: its backend's own CPU clock (schedstat, in ns) and the
	# time, read by psql's shell escapes around the \copy.
	local out
	out=$("${q[@]}" -t -A <<EOF
SELECT pg_backend_pid() AS bp \gset
\setenv BP :bp
\! cut -d' ' -f1 /proc/\$BP/schedstat; date +%s.%N
\copy t FROM '$tmp/pg/in.txt'
\! cut -d' ' -f1 /proc/\$BP/schedstat; date +%s.%N
EOF
)
	read -r c0 t0 c1 t1 <<<"$(echo $out)"
	mb=$(stat -c %s "$tmp/pg/in.txt" | awk '{print $1 / 1e6}')
	runuser -u postgres -- "$PG/pg_ctl" -D "$tmp/pg/db" -m fast stop >/dev/null; wait $runner 2>/dev/null
	figures "$(sub "$c1" "$c0")" "$mb" "$(sub "$t1" "$t0")"
}

# NioRecv reading 256 MiB from a MSG_ZEROCOPY server in 1 MiB reads,
# unchecked; the JVM reports its reading thread's CPU and wall time.
java_setup() { command -v javac >/dev/null && javac -d "$tmp/java" tests/helpers/java/NioRecv.java; }
run_java() {
	local out sport
	coproc S { exec taskset -c 0 "$zcsend" --bytes 256M --mode zerocopy --mss 4108; }
	local spid=$S_PID
	read -r _ sport <&"${S[0]}"
	out=$(taskset -c 1 $(under "$1") java -Xshare:auto -cp "$tmp/java" NioRecv "$sport" 268435456 1048576 nocheck)
	wait $spid 2>/dev/null
	local c w
	c=$(printf '%s' "$out" | sed -n 's/.*cpu_ns=\([0-9]*\).*/\1/p')
	w=$(printf '%s' "$out" | sed -n 's/.*wall_ns=\([0-9]*\).*/\1/p')
	figures "${c:-0}" 268.435456 "$(awk -v w="${w:-1}" 'BEGIN {print w / 1e9}')"
}

# "mapped% reason" from a zcstat report: the share of the bytes received
# that was mapped, and the reason most of the rest was copied ("-": none).
mapped_why() {
	python3 - "$1" <<'PY' 2>/dev/null || echo "- -"
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
fb = t.get("fallback") or {}
copied = t["bytes_copied"]
why = max(fb, key=lambda k: fb[k].get("bytes", 0)) if fb and copied * 200 > copied + t["bytes_mapped"] else "-"
print("%.1f %s" % (t["mapped_pct"], why))
PY
}

# row NAME FUNCTION [ARG]: PAIRS triples of (plain, shim, auto), medians.
row() {
	local name=$1 fn=$2 arg=${3:-} cp tp cs ts ca ta m why
	case $name in *"$filter"*) ;; *) return ;; esac
	for f in cr ar tr cp cs tp m am; do : >"$tmp/$f"; done
	for i in $(seq "$pairs"); do
		read -r cp tp < <($fn plain $arg)
		rm -f "$rep"
		read -r cs ts < <($fn shim $arg)
		read -r m why < <(mapped_why "$rep")
		rm -f "$rep"
		read -r ca ta < <($fn auto $arg)
		read -r am _ < <(mapped_why "$rep")
		echo "$cp" >>"$tmp/cp"; echo "$cs" >>"$tmp/cs"; echo "$tp" >>"$tmp/tp"
		echo "$m" >>"$tmp/m"; echo "$am" >>"$tmp/am"
		awk -v a="$cs" -v b="$cp" 'BEGIN {print (b > 0 ? a / b : 0)}' >>"$tmp/cr"
		awk -v a="$ca" -v b="$cp" 'BEGIN {print (b > 0 ? a / b : 0)}' >>"$tmp/ar"
		awk -v a="$ts" -v b="$tp" 'BEGIN {print (b > 0 ? a / b : 0)}' >>"$tmp/tr"
	done
	printf '%-34s %9.4f %9.4f %8.3f %8.3f %8.0f %8.3f %8s %8s  %s\n' "$name" "$(median <"$tmp/cp")" \
		"$(median <"$tmp/cs")" "$(median <"$tmp/cr")" "$(median <"$tmp/ar")" "$(median <"$tmp/tp")" \
		"$(median <"$tmp/tr")" "$(median <"$tmp/m")" "$(median <"$tmp/am")" "$why"
}
missing() { case $1 in *"$filter"*) printf '%-34s not installed here\n' "$1" ;; esac; }

mkdir -m 777 "$tmp/rep"	# the report's directory: PostgreSQL writes as postgres
rep=$tmp/rep/report.json
printf '\ndaemons receiving (%s runs each of plain, map, auto in turn; client or server on CPU 0, daemon on CPU 1; medians): the receiver'"'"'s CPU and throughput\n' "$pairs"
printf '%-34s %9s %9s %8s %8s %8s %8s %8s %8s  %s\n' scenario "cpu plain" "cpu map" "map/" "auto/" "MB/s" "tput" "mapped" "auto" "copied"
printf '%-34s %9s %9s %8s %8s %8s %8s %8s %8s  %s\n' "" "ms/MB" "ms/MB" "plain" "plain" "plain" "ratio" "%" "map %" "mostly"
if command -v redis-server >/dev/null; then row "daemon redis-server SET 8M x32" run_redis; else missing "daemon redis-server"; fi
if command -v nginx >/dev/null; then
	row "daemon nginx PUT 16M x16" run_nginx dav
	row "daemon nginx proxy_pass 16M x16" run_nginx relay
else
	missing "daemon nginx"
fi
if command -v haproxy >/dev/null; then row "daemon haproxy tcp 64M x4 (splice)" run_haproxy; else missing "daemon haproxy"; fi
if [[ "daemon postgres" != *"$filter"* ]]; then :; elif pg_setup; then row "daemon postgres COPY 64M (psql)" run_postgres; else missing "daemon postgres"; fi
if [[ "daemon java" != *"$filter"* ]]; then :; elif java_setup; then row "daemon java NIO read 1M x256M" run_java; else missing "daemon java (javac)"; fi
