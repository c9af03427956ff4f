#!/usr/bin/env bash
# Side-by-side relay benchmark: coTurn (Debian turnserver) vs onertc's TURN server, both on
# 127.0.0.1 with use-auth-secret, the same secret and realm, relay ports 61000-65535 (outside
# the ephemeral range), loopback peers allowed, driven by the same client (coTurn's
# turnutils_uclient, client-to-client mode: each message crosses the server twice).
# Each run gets a freshly started server. Prints a markdown table.
#   usage: bench/turn/run.sh            (from the repository root; ~1-2 minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."

SECRET=bench-secret-$$
REALM=bench
PORT=3578
LEN=200
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP"/pid 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT

if ! command -v turnserver >/dev/null || ! command -v turnutils_uclient >/dev/null; then
	apt-get install -y -o DPkg::Lock::Timeout=300 coturn >/dev/null
fi
go build -o "$TMP/onertc-turn" ./bench/turn/onertc-turn
ulimit -n 65536 2>/dev/null || true

creds() { # TURN REST credentials, valid 1 h
	local u=$(( $(date +%s) + 3600 )):bench
	printf '%s %s\n' "$u" "$(printf '%s' "$u" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64)"
}

start() { # start <server>: leaves its pid in $TMP/pid
	case $1 in
	coturn)
		turnserver -n --no-cli --no-tls --no-dtls --listening-ip 127.0.0.1 --listening-port $PORT \
			--relay-ip 127.0.0.1 --min-port 61000 --max-port 65535 --use-auth-secret \
			--static-auth-secret "$SECRET" --realm $REALM --allow-loopback-peers \
			--no-stdout-log --log-file "$TMP/coturn.log" --simple-log >/dev/null 2>&1 &
		;;
	onertc)
		"$TMP/onertc-turn" -port $PORT -secret "$SECRET" -realm $REALM -min-port 61000 -max-port 65535 \
			2>"$TMP/onertc.log" &
		;;
	esac
	echo $! >"$TMP/pid"
	for _ in $(seq 50); do
		timeout 2 turnutils_stunclient -p $PORT 127.0.0.1 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$1 did not start" >&2; exit 1
}

stop() { kill "$(cat "$TMP/pid")" 2>/dev/null || true; wait "$(cat "$TMP/pid")" 2>/dev/null || true; rm -f "$TMP/pid"; sleep 0.5; }

cputicks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rcvbuf_errors() { awk '/^Udp:/{n++; if(n==2) print $6}' /proc/net/snmp; }

# run <server> <sessions> <messages> <interval-ms>: prints one result line
run() {
	local server=$1 m=$2 n=$3 z=$4
	start "$server"
	local pid; pid=$(cat "$TMP/pid")
	read -r user pass < <(creds)
	local c0 e0 t0 t1 c1 e1
	c0=$(cputicks "$pid"); e0=$(rcvbuf_errors); t0=$(date +%s.%N)
	timeout 180 turnutils_uclient -p $PORT -u "$user" -w "$pass" -y -c -m "$m" -n "$n" -l $LEN -z "$z" 127.0.0.1 \
		>"$TMP/uclient.log" 2>&1 || echo "uclient exit $? ($server, m=$m)" >&2
	t1=$(date +%s.%N); c1=$(cputicks "$pid"); e1=$(rcvbuf_errors)
	local rss; rss=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
	stop
	local recv lost ttime ctime
	recv=$(sed -n 's/.*tot_recv_msgs=\([0-9]*\)$/\1/p' "$TMP/uclient.log" | tail -1)
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\) (\([0-9.]*\)%).*/\1 (\2%)/p' "$TMP/uclient.log" | tail -1)
	ttime=$(sed -n 's/.*Total transmit time is \([0-9]*\).*/\1/p' "$TMP/uclient.log" | tail -1)
	ctime=$(sed -n 's/.*Total connect time is \([0-9]*\).*/\1/p' "$TMP/uclient.log" | tail -1)
	local hz; hz=$(getconf CLK_TCK)
	awk -v s="$server" -v m="$m" -v recv="${recv:-0}" -v lost="${lost:-?}" -v tt="${ttime:-0}" -v ct="${ctime:-0}" \
		-v wall="$(echo "$t1 - $t0" | bc)" -v cpu="$(( c1 - c0 ))" -v hz="$hz" -v rss="$rss" -v kd="$(( e1 - e0 ))" -v len=$LEN 'BEGIN {
		tt = (tt > 0 ? tt : wall)
		relayed = 2 * recv                  # client-to-client: every message crosses the server twice
		cpus = cpu / hz
		printf "| %s | %d | %d | %.0f | %.1f | %s | %d | %.2f | %.1f | %.0f |\n", s, m, recv, relayed / tt, relayed * len * 8 / tt / 1e6, lost, kd, cpus, (relayed > 0 ? cpus * 1e6 / relayed : 0), rss / 1024
	}'
}

echo "| server | allocations | msgs delivered | relayed pkt/s | relayed Mbit/s | lost (uclient) | kernel rcvbuf drops | server CPU s | CPU µs/pkt | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for spec in "100 300 10" "1000 60 50"; do
	set -- $spec
	for server in coturn onertc; do
		run "$server" "$1" "$2" "$3"
	done
done
