#!/usr/bin/env bash
# Coordinated omission, side by side: the same steady load against a server
# that stalls every 2 s for 500 ms, measured by vegeta and by reprise, beside
# the server's own record of the delay it injected (the truth).
#
# vegeta is not part of reprise; build it yourself for the comparison, e.g.
#   GOBIN=/tmp/vegeta-bin go install github.com/tsenart/vegeta/v12@latest
# then:
#   VEGETA=/tmp/vegeta-bin/vegeta bench/co-vs-vegeta.sh [RATE] [SECONDS]
#
# Two client settings are compared: an unbounded one (vegeta's default
# workers, reprise's default in-flight bound) and one bounded to 10
# concurrent requests (vegeta -max-workers 10, reprise --max-in-flight 10),
# where a tool that times from when a worker picks a request up hides the
# stalls.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-200}
secs=${2:-10}
vegeta=${VEGETA:?set VEGETA to a vegeta binary}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/replay" ./cmd/replay
go build -o "$work/record" ./cmd/record

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() { # PORT LOGFILE
  "$work/replay" serve --listen "127.0.0.1:$1" --any-token --latency fixed:5ms --stall every=2s,for=500ms --seed 1 >"$2" 2>&1 &
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$1/health" >/dev/null && return; sleep 0.1; done
}
truth() { # LOGFILE: the server prints its injected percentiles on exit
  grep -Eo 'p50=[^ ]+|p95=[^ ]+|p99=[^ ]+' "$1" | tr '\n' ' '
}

# 1. A corpus of exactly this load: vegeta's own requests, recorded through the proxy.
p0=$(port); serve "$p0" "$work/s0.log"
pp=$(port)
"$work/record" proxy --listen "127.0.0.1:$pp" --upstream "http://127.0.0.1:$p0" --out "$work/load.rpz" >"$work/proxy.log" 2>&1 &
proxy=$!
sleep 0.5
echo "GET http://127.0.0.1:$pp/v1/sessions
Authorization: Bearer bench-user" | "$vegeta" attack -rate "$rate" -duration "${secs}s" >/dev/null
kill -INT $proxy; wait $proxy || true

printf '%-34s %-34s %s\n' "client" "p50 / p95 / p99 reported" "server truth (injected)"
for bound in unbounded 10; do
  # vegeta
  p=$(port); serve "$p" "$work/v$bound.log"
  vflags=(); [ "$bound" != unbounded ] && vflags=(-max-workers "$bound" -workers "$bound")
  echo "GET http://127.0.0.1:$p/v1/sessions
Authorization: Bearer bench-user" | "$vegeta" attack -rate "$rate" -duration "${secs}s" "${vflags[@]}" >"$work/v.bin"
  v=$("$vegeta" report -type json "$work/v.bin" | python3 -c 'import json,sys; r=json.load(sys.stdin)["latencies"]; print("%.1fms / %.1fms / %.1fms  (%s)" % (r["50th"]/1e6, r["95th"]/1e6, r["99th"]/1e6, "sent %d" % 0))' | sed 's/  (sent 0)//')
  pkill -INT -f "serve --listen 127.0.0.1:$p" ; sleep 0.5
  printf '%-34s %-34s %s\n' "vegeta ($bound workers)" "$v" "$(truth "$work/v$bound.log")"
  # reprise
  p=$(port); serve "$p" "$work/r$bound.log"
  rflags=(); [ "$bound" != unbounded ] && rflags=(--max-in-flight "$bound" --max-lag 1m)
  "$work/replay" run "$work/load.rpz" --target "http://127.0.0.1:$p" -q --out json="$work/r.json" "${rflags[@]}" >/dev/null || true
  r=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["overall"]["latency"]; print("%.1fms / %.1fms / %.1fms" % (d["p50_ms"], d["p95_ms"], d["p99_ms"]))' "$work/r.json")
  pkill -INT -f "serve --listen 127.0.0.1:$p" ; sleep 0.5
  printf '%-34s %-34s %s\n' "reprise ($bound in flight)" "$r" "$(truth "$work/r$bound.log")"
done
