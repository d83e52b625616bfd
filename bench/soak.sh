#!/usr/bin/env bash
# soak.sh: replays the shipped corpus in a loop against the built-in server
# and samples the replay's resident memory every minute, to show that a long
# run's memory stays flat (issue "bounded state in long runs").
#
#   bench/soak.sh [DURATION] [SPEED] [COPIES]     defaults: 10m 20 2
#
# Prints one line per sample and, at the end, the RSS of the last minute
# against the first as a ratio. Loopback only; the run stops by itself.
# replay run keeps up to 256 MiB of garbage-collector headroom (GOGC=400
# under a soft limit): to watch the live heap instead, as a leak would show,
# run GOGC=100 bench/soak.sh (the environment turns that tuning off).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10m}
speed=${2:-20}
copies=${3:-2}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/replay" ./cmd/replay
port=$((20000 + RANDOM % 20000))
"$tmp/replay" serve --listen 127.0.0.1:$port --any-token >"$tmp/serve.log" 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
"$tmp/replay" run corpora/happy-dev.rpz --target "http://127.0.0.1:$port" --speed "$speed" \
  --multiply "$copies" --loop --duration "$dur" --allow-origin -q --out "json=$tmp/soak.json" >"$tmp/run.out" 2>&1 &
pid=$!
first=""
last=""
minute=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 60 || true
  kill -0 "$pid" 2>/dev/null || break
  minute=$((minute + 1))
  rss=$(awk '/VmRSS/{print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || echo 0)
  echo "minute $minute: rss ${rss} MB"
  [ -z "$first" ] && first=$rss
  last=$rss
done
wait "$pid" || true
grep -E "accounting|http_reqs\.|http_req_failed" "$tmp/run.out" || tail -5 "$tmp/run.out"
if [ -n "$first" ] && [ "$first" -gt 0 ]; then
  awk -v a="$first" -v b="$last" 'BEGIN{printf "rss last/first minute: %d/%d MB = %.2f\n", b, a, b/a}'
fi
