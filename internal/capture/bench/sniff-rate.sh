#!/usr/bin/env bash
# sniff-rate.sh: how fast can loopback traffic go before `record sniff`
# loses anything? Drives nginx (temporary config on 127.0.0.1) with wrk at
# increasing concurrency while `record sniff` captures it, and compares the
# exchanges recorded with the requests nginx logged and with the kernel's
# drop count. When GOREPLAY names a GoReplay binary, it captures the same
# traffic side by side (--input-raw, file output) and its request records
# are counted too.
#
# Columns: wrk's request rate; requests nginx logged; exchanges recorded;
# packets the kernel dropped; logged minus recorded; recorded exchanges
# flagged incomplete; request records in GoReplay's output file.
#
# usage: internal/capture/bench/sniff-rate.sh [SECONDS] [CONNECTIONS...]
#   SECONDS      wrk duration per step (default 10)
#   CONNECTIONS  wrk connection counts to try (default: 1 4 16 64 256)
# env: PORT (default 18190), GOREPLAY (optional path), WRK_THREADS (default 2),
#      SNIFF_LOG_DIR (keep each step's record sniff output there)
# needs: root (AF_PACKET), nginx, wrk, go.
set -euo pipefail

secs=${1:-10}
shift || true
conns=("$@")
[ ${#conns[@]} -gt 0 ] || conns=(1 4 16 64 256)
port=${PORT:-18190}
threads=${WRK_THREADS:-2}
root=$(cd "$(dirname "$0")/../../.." && pwd)
tmp=$(mktemp -d)
nginx_pid=""
cleanup() {
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

for tool in nginx wrk go; do
	command -v "$tool" >/dev/null || { echo "sniff-rate: $tool is not installed" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "sniff-rate: live capture needs root" >&2; exit 1; }

(cd "$root" && go build -o "$tmp/record" ./cmd/record)

mkdir -p "$tmp/ngx"
cat > "$tmp/ngx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/ngx/nginx.pid;
error_log $tmp/ngx/error.log;
events { worker_connections 8192; }
http {
  access_log $tmp/ngx/access.log combined buffer=256k flush=1s;
  client_body_temp_path $tmp/ngx/body;
  proxy_temp_path $tmp/ngx/proxy;
  fastcgi_temp_path $tmp/ngx/fastcgi;
  uwsgi_temp_path $tmp/ngx/uwsgi;
  scgi_temp_path $tmp/ngx/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 "{\"ok\":true,\"path\":\"\$uri\"}\n"; }
  }
}
CONF
nginx -c "$tmp/ngx/nginx.conf" -p "$tmp/ngx" &
nginx_pid=$!
sleep 0.5

printf '%-6s %10s %10s %10s %8s %8s %10s %10s\n' conns wrk_req/s nginx sniff kdrops missing incomplete goreplay
for c in "${conns[@]}"; do
	: > "$tmp/ngx/access.log"
	kill -USR1 "$(cat "$tmp/ngx/nginx.pid")" # reopen the log
	rm -f "$tmp/c.rpz" "$tmp/gor.log"
	"$tmp/record" sniff -i lo -p "$port" --duration "$((secs + 4))s" -o "$tmp/c.rpz" --force > "$tmp/sniff.out" 2> "$tmp/sniff.err" &
	sniff_pid=$!
	gor_pid=""
	if [ -n "${GOREPLAY:-}" ]; then
		"$GOREPLAY" --input-raw ":$port" --output-file "$tmp/gor.log" --output-file-append > "$tmp/gor.out" 2>&1 &
		gor_pid=$!
	fi
	sleep 1.5
	t=$threads
	[ "$c" -lt "$t" ] && t=$c
	wrk -t"$t" -c"$c" -d"${secs}s" "http://127.0.0.1:$port/api/v1/items" > "$tmp/wrk.out"
	sleep 2
	[ -n "$gor_pid" ] && { kill -INT "$gor_pid"; wait "$gor_pid" || true; }
	wait "$sniff_pid"
	sleep 1.2 # nginx log buffer flush
	rate=$(awk '/Requests\/sec/ {printf "%d", $2}' "$tmp/wrk.out")
	served=$(grep -c 'GET /api/v1/items' "$tmp/ngx/access.log" || true)
	got=$(awk '/^exchanges/ {print $2}' "$tmp/sniff.out")
	drops=$(sed -n 's/.*dropped by the kernel \([0-9]*\).*/\1/p' "$tmp/sniff.out")
	gor="-"
	if [ -n "$gor_pid" ]; then
		gor=$(grep -ac '^1 [0-9a-f]* [0-9]*' "$tmp/gor.log" 2>/dev/null || echo 0)
	fi
	cp "$tmp/sniff.out" "${SNIFF_LOG_DIR:-$tmp}/sniff-$c.out" 2>/dev/null || true
	incomplete=$(sed -n 's/^exchanges [0-9]* (incomplete \([0-9]*\).*/\1/p' "$tmp/sniff.out")
	printf '%-6s %10s %10s %10s %8s %8s %10s %10s\n' "$c" "$rate" "$served" "$got" "$drops" "$((served - got))" "$incomplete" "$gor"
done
