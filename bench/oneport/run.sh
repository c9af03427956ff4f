#!/usr/bin/env bash
# One port (443) benchmark: the HTTPS port shared with TURN (server/demux) against a TURN-only
# TLS port of the same onertc and against coTurn's TLS listener, all on 127.0.0.1, same box,
# one run, servers restarted for every measurement and alternating, server pinned to CPU 0
# and the load client (bench/turn/load, the TURN benchmark's client) to CPU 1:
#   - TURN over TLS relay: 100 allocations in pairs relaying 200-byte ChannelData over TLS
#     with no ALPN (what browsers send on turns:, so the shared port's first-decrypted-byte
#     path), offered rates rising until a step loses > 1 %; the highest rate sustained
#     at <= 1 % loss is compared: shared port / own port (target >= 0.95x), shared port /
#     coTurn (target >= 1.0x).
#   - HTTPS GET /healthz requests/s with TURN sharing the port (the default) and without
#     (--turn-on-https=false): HTTP/2 keep-alive, and a new TLS connection per request.
# Writes bench/oneport/RESULTS.md. About 3 minutes with ROUNDS=2.
#   usage: bench/oneport/run.sh      env: ROUNDS=n (default 2)
set -euo pipefail
cd "$(dirname "$0")/../.."

SECRET=bench-secret-$$
REALM=bench
HTTPS=19443 TURN=19478 TURNTLS=19349
TMP=$(mktemp -d)
RESULTS=$TMP/results.jsonl
ROUNDS=${ROUNDS:-2}
trap 'stop; rm -rf "$TMP"' EXIT

command -v turnserver >/dev/null || scripts/need-debian-packages coturn
go build -o "$TMP/onertc" ./server/cmd/onertc
go build -o "$TMP/load" ./bench/turn/load
ulimit -n 65536 2>/dev/null || true
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null

start() { # start <onertc|onertc-noshare|coturn>: leaves its pid in $TMP/pid
	case $1 in
	onertc | onertc-noshare)
		local share=true
		[[ $1 == onertc-noshare ]] && share=false
		taskset -c 0 "$TMP/onertc" serve --http 127.0.0.1:$HTTPS --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
			--turn-on-https=$share --turn 127.0.0.1:$TURN --turn-tls 127.0.0.1:$TURNTLS --public-ip 127.0.0.1 \
			--turn-secret "$SECRET" --realm $REALM --relay-ports 61000-65535 --turn-allow-loopback \
			--turn-self-test 0 --limit-turn 0 --limit-join 0 --max-pending-per-ip 0 --log-level warn 2>>"$TMP/onertc.log" &
		;;
	coturn)
		taskset -c 0 turnserver -n --no-cli --no-dtls --listening-ip 127.0.0.1 --listening-port $TURN \
			--tls-listening-port $TURNTLS --cert "$TMP/cert.pem" --pkey "$TMP/key.pem" \
			--relay-ip 127.0.0.1 --min-port 61000 --max-port 65535 --use-auth-secret \
			--static-auth-secret "$SECRET" --realm $REALM --allow-loopback-peers \
			--no-stdout-log --log-file "$TMP/coturn.log" --simple-log >/dev/null 2>&1 &
		;;
	esac
	echo $! >"$TMP/pid"
	for _ in $(seq 50); do
		timeout 2 turnutils_stunclient -p $TURN 127.0.0.1 >/dev/null 2>&1 && return 0
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

relay() { # relay <label> <port>
	timeout 120 taskset -c 1 "$TMP/load" relay -server "$1" -transport tls -addr 127.0.0.1:$2 -secret "$SECRET" \
		-realm $REALM -pid "$(cat "$TMP/pid")" -out "$RESULTS" -allocations 100 -step 2s -rate 4000 \
		|| echo "relay $1 failed ($?)" >&2
}

https() { # https <label> [flags]
	timeout 60 taskset -c 1 "$TMP/load" https -server "$1" -url https://127.0.0.1:$HTTPS/healthz -duration 3s \
		-out "$RESULTS" "${@:2}" || echo "https $1 $* failed ($?)" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
	start onertc
	relay onertc-shared $HTTPS
	stop
	start onertc
	relay onertc-own-port $TURNTLS
	stop
	start coturn
	relay coturn-tls $TURNTLS
	stop
	for server in onertc onertc-noshare; do
		label=shared
		[[ $server == onertc-noshare ]] && label=not-shared
		start $server
		https $label
		https $label -new-conns -workers 8
		stop
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
	echo "- Machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr -m), shared with other work; load average before $load_before, after $load_after"
	echo "- Date: $(date -u +%F) · $(go version | awk '{print $3}') · coTurn $(turnserver --version 2>/dev/null | head -1)"
	echo "- Command: \`ROUNDS=$ROUNDS bench/oneport/run.sh\` (server on CPU 0, load client on CPU 1)"
	echo
	echo "### TURN over TLS (no ALPN, as browsers): the HTTPS port shared with TURN vs a TURN-only TLS port of the same onertc"
	echo
	"$TMP/load" report -in "$RESULTS" -a onertc-own-port -b onertc-shared
	echo
	echo "### TURN over TLS: onertc's shared HTTPS port vs coTurn's TLS listener"
	echo
	"$TMP/load" report -in "$RESULTS" -a coturn-tls -b onertc-shared
	echo
	echo "### HTTPS with and without TURN sharing the port"
	echo
	"$TMP/load" httpsreport -in "$RESULTS" -a not-shared -b shared
} >"$TMP/measured.md"
cat "$TMP/measured.md"
out=bench/oneport/RESULTS.md
{
	echo "# One port (443): HTTPS and TURN over TLS on one port"
	echo
	echo "What \`bench/oneport/run.sh\` measures is described at its top. Targets: TURN over TLS on the shared"
	echo "port >= 0.95x a TURN-only TLS port of the same server, and >= 1.0x coTurn's TLS listener, in relayed"
	echo "packets/s sustained at <= 1 % loss. The load client is one process on one core; where it, not the"
	echo "server, is the limit (sent below offered), the ratio says only that the server kept up."
	echo
	cat "$TMP/measured.md"
} >"$out"
echo "wrote $out" >&2
