#!/usr/bin/env bash
# Side-by-side TURN benchmark: coTurn (Debian turnserver) vs the onertc binary users run
# (bin/onertc serve with its defaults: TURN on all interfaces, the HTTP server beside it), with
# only what the bench needs added (port, secret, realm, relay ports, loopback peers, public IP
# 127.0.0.1, no periodic self-test); coTurn on 127.0.0.1. Both with use-auth-secret, the same secret and realm, relay ports 61000-65535 (outside
# the ephemeral range 32768-60999, so client sockets never take relay ports), loopback peers
# allowed, each run on a freshly started server, all driven by the same Go load client
# (bench/turn/load, pion/turn's client):
#   - allocations/s: 32 workers allocate (REST credentials) and deallocate for 4 s;
#   - relay saturation: 100 and 1,000 allocations in pairs relaying 200-byte ChannelData to
#     each other, open loop, 2.5 s steps at offered rates rising x1.5 from 10k pkt/s until
#     a step loses more than 1 %, then two steps bisecting towards the limit;
#   - interop: coTurn's own turnutils_uclient against both (a small lossless run).
# Every measurement is repeated in $ROUNDS rounds with the servers alternating.
# Server CPU and RSS come from /proc/PID, kernel drops from /proc/net/udp and /proc/net/snmp.
# Prints markdown tables (both columns and the ratio onertc/coTurn) and writes them into
# bench/turn/RESULTS.md between its "measured" markers. About 4 minutes.
#   usage: bench/turn/run.sh                    (from anywhere; builds what it runs)
#   env:   RESULTS=file     keep the raw JSON lines there
#          ROUNDS=n         rounds of each measurement (default 2)
#          PORT=n HTTP_PORT=n  the TURN and onertc HTTP ports (default 3578, 8578)
#          ONERTC_BIN=path  another onertc binary (default: bin/onertc, built by make build)
# To profile onertc under this load, add --pprof 127.0.0.1:PORT to its command line below and
# fetch /debug/pprof/profile during a run.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECRET=bench-secret-$$
REALM=bench
PORT=${PORT:-3578}
HTTP_PORT=${HTTP_PORT:-8578}
TMP=$(mktemp -d)
RESULTS=${RESULTS:-$TMP/results.jsonl}
ROUNDS=${ROUNDS:-2}
: >"$RESULTS"
trap 'stop; rm -rf "$TMP"' EXIT

if ! command -v turnserver >/dev/null || ! command -v turnutils_uclient >/dev/null; then
	apt-get install -y -o DPkg::Lock::Timeout=300 coturn >/dev/null
fi
ONERTC_BIN=${ONERTC_BIN:-bin/onertc}
[[ $ONERTC_BIN == bin/onertc ]] && make -s build >/dev/null
go build -o "$TMP/load" ./bench/turn/load
ulimit -n 65536 2>/dev/null || true

RUN=0
start() { # start <server> <tag>: leaves its pid in $TMP/pid
	RUN=$((RUN + 1))
	case $1 in
	coturn)
		turnserver -n --no-cli --no-tls --no-dtls --listening-ip 127.0.0.1 --listening-port $PORT \
			--relay-ip 127.0.0.1 --min-port 61000 --max-port 65535 --use-auth-secret \
			--static-auth-secret "$SECRET" --realm $REALM --allow-loopback-peers \
			--no-stdout-log --log-file "$TMP/coturn.log" --simple-log >/dev/null 2>&1 &
		;;
	onertc)
		"$ONERTC_BIN" serve --http 127.0.0.1:$HTTP_PORT --turn :$PORT --turn-secret "$SECRET" --realm $REALM \
			--relay-ports 61000-65535 --turn-allow-loopback --public-ip 127.0.0.1 --turn-self-test 0 \
			--log-level warn 2>>"$TMP/onertc.log" &
		;;
	esac
	echo $! >"$TMP/pid"
	for _ in $(seq 50); do
		timeout 2 turnutils_stunclient -p $PORT 127.0.0.1 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$1 did not start" >&2
	exit 1
}

stop() {
	[[ -f $TMP/pid ]] || return 0
	kill "$(cat "$TMP/pid")" 2>/dev/null || true
	wait "$(cat "$TMP/pid")" 2>/dev/null || true
	rm -f "$TMP/pid"
	sleep 0.5
}

load() { # load <alloc|relay> <server> [flags]: one bounded load-client run
	local mode=$1 server=$2
	shift 2
	timeout 120 "$TMP/load" "$mode" -server "$server" -addr 127.0.0.1:$PORT -secret "$SECRET" -realm $REALM \
		-pid "$(cat "$TMP/pid")" -out "$RESULTS" "$@" || echo "load $mode $server $* failed ($?)" >&2
}

# Servers alternate, several rounds: on a shared machine a disturbance only lowers a result,
# so the report shows every round and takes the best.
for round in $(seq "$ROUNDS"); do
	for server in coturn onertc; do
		start $server "alloc-$round"
		load alloc $server -workers 32 -duration 4s
		stop
	done
done
for round in $(seq "$ROUNDS"); do
	for n in 100 1000; do
		for server in coturn onertc; do
			start $server "relay-$n-$round"
			load relay $server -allocations "$n" -step 2.5s
			stop
		done
	done
done

# Interop proof: coTurn's own client, client-to-client through channels, must lose nothing.
interop=()
for server in coturn onertc; do
	start $server interop
	u=$(($(date +%s) + 3600)):bench
	p=$(printf '%s' "$u" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64)
	if timeout 60 turnutils_uclient -p $PORT -u "$u" -w "$p" -y -c -m 10 -n 100 -l 200 -z 5 127.0.0.1 \
		>"$TMP/uclient.log" 2>&1; then
		interop+=("| $server | $(sed -n 's/.*Total lost packets \([0-9]* ([0-9.]*%)\).*/\1/p' "$TMP/uclient.log" | tail -1) |")
	else
		interop+=("| $server | uclient failed ($?) |")
	fi
	stop
done

# The measured block of bench/turn/RESULTS.md (between the markers) is rewritten; the
# method and the reading of the numbers around it are kept. Also printed.
{
	echo "- Machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr -m), shared with other work"
	echo "- Date: $(date -u +%F) · $(go version | awk '{print $3}') · coTurn $(turnserver --version 2>/dev/null | head -1) · pion/turn $(go list -m -f '{{.Version}}' github.com/pion/turn/v2)"
	echo "- Command: \`ROUNDS=$ROUNDS bench/turn/run.sh\`"
	echo
	"$TMP/load" report -in "$RESULTS"
	echo
	echo "| turnutils_uclient -y -c -m 10 -n 100 -l 200 | lost |"
	echo "|---|---|"
	printf '%s\n' "${interop[@]}"
} >"$TMP/measured.md"
cat "$TMP/measured.md"
out=bench/turn/RESULTS.md
begin='<!-- measured: begin (written by bench/turn/run.sh) -->'
end='<!-- measured: end -->'
if [[ -f $out ]] && grep -qF "$begin" "$out" && grep -qF "$end" "$out"; then
	awk -v b="$begin" -v e="$end" -v m="$TMP/measured.md" '
		$0 == b { print; while ((getline l < m) > 0) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }' "$out" >"$TMP/RESULTS.md"
else
	{ [[ -f $out ]] && cat "$out" && echo; echo "$begin"; cat "$TMP/measured.md"; echo "$end"; } >"$TMP/RESULTS.md"
fi
cp "$TMP/RESULTS.md" "$out"
echo "wrote $out" >&2
