#!/usr/bin/env bash
# reprise side by side with vegeta and wrk, in one run: the table of issue 13.
#
#   bench/peers.sh [--quick] [--seconds N] [--rate R] [--requests N] [--conns N] [--users N]
#
# The target (bench/target, a trivial JSON server) runs alone on one core
# with GOMAXPROCS=1; every generator runs pinned to another core. Measured:
#   (a) max rate: vegeta -rate=0 -max-workers=CONNS and wrk -t1 -cCONNS for
#       N seconds each; reprise replaying a synthetic corpus of REQUESTS
#       requests (bench/gencorpus, no WebSockets) as fast as it can, with
#       --max-in-flight CONNS: --speed max when the build has it, else
#       --speed 1000000 --max-lag 1h. vegeta sends the corpus's first
#       10,000 requests in turn (same methods, paths, headers, bodies), wrk
#       one of them, GET /v1/sessions with its bearer token;
#   (b) CPU per request at max: the generator's user+sys CPU over the
#       requests answered 200 (/usr/bin/time);
#   (c) at a fixed RATE/s for N seconds: requests per CPU-second of vegeta
#       (-rate=RATE/s) and reprise (a corpus recorded at RATE/s, --speed 1),
#       and reprise's dispatch lateness p99 (schedule_lag of its results);
#   (d) peak RSS of each generator (/usr/bin/time %M), reprise's being the
#       REQUESTS-request max-rate replay.
# It prints a table with reprise's ratios against vegeta. vegeta v12.13.0 is
# installed with go install into a scratch GOBIN (PEERS_BIN, default
# /tmp/reprise-peers-bin) unless VEGETA names a binary or one of that
# version is on PATH; wrk comes from Debian (apt-get install -y wrk) when
# missing and run as root, else its column stays empty. Nothing is written
# in the repository; everything runs on loopback, every step under a time
# limit.
#
# Options (or environment):
#   --quick            3 s per step: checks that the script works, figures are rough
#   --seconds N        seconds per vegeta/wrk step and of the fixed-rate corpus (PEERS_SECONDS, 30)
#   --rate R           the fixed rate, requests per second (PEERS_RATE, 5000)
#   --requests N       requests in reprise's max-rate corpus (PEERS_REQUESTS, 100000)
#   --conns N          connections / workers / max in flight at max rate (PEERS_CONNS, 64)
#   --users N          recorded users (flows) of the corpora (PEERS_USERS, 100)
#   PEERS_TARGET_CPU, PEERS_GEN_CPU   cores of the target and the generators (0 and 1)
#   PEERS_KEEP=1       keep the corpora, reports and timings (printed: a directory under /tmp)
#   PEERS_REPLAY=BIN   measure this replay binary instead of building ./cmd/replay
#                      (an earlier commit's build, for a before/after in one sitting)
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."

die() { echo "peers.sh: $*" >&2; exit 1; }
step() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
whole() { # NAME VALUE: a whole number above 0
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "peers.sh: $1 $2: want a whole number above 0" >&2; exit 2; }
}

seconds=${PEERS_SECONDS:-}
rate=${PEERS_RATE:-5000}
requests=${PEERS_REQUESTS:-100000}
conns=${PEERS_CONNS:-64}
users=${PEERS_USERS:-100}
target_cpu=${PEERS_TARGET_CPU:-0}
gen_cpu=${PEERS_GEN_CPU:-1}
bin=${PEERS_BIN:-/tmp/reprise-peers-bin}
quick=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --seconds|--rate|--requests|--conns|--users)
      [ $# -ge 2 ] || { echo "peers.sh: $1 needs a value" >&2; exit 2; }
      case $1 in
        --seconds) seconds=$2 ;; --rate) rate=$2 ;; --requests) requests=$2 ;;
        --conns) conns=$2 ;; --users) users=$2 ;;
      esac
      shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "peers.sh: unknown argument $1 (--help lists the options)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$seconds" ]; then
  seconds=30
  [ $quick = 1 ] && seconds=3
fi
whole --seconds "$seconds"; whole --rate "$rate"; whole --requests "$requests"
whole --conns "$conns"; whole --users "$users"

for tool in go python3 taskset timeout /usr/bin/time; do
  command -v "$tool" >/dev/null || die "$tool is required (time: apt-get install time)"
done
ncpu=$(nproc --all)
[[ "$target_cpu" =~ ^[0-9]+$ && "$gen_cpu" =~ ^[0-9]+$ ]] && [ "$target_cpu" != "$gen_cpu" ] &&
  [ "$target_cpu" -lt "$ncpu" ] && [ "$gen_cpu" -lt "$ncpu" ] ||
  die "cores $target_cpu (target) and $gen_cpu (generators) must be two different cores of the $ncpu here"

work=$(mktemp -d /tmp/reprise-peers.XXXXXX)
target_pid=
cleanup() {
  if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; fi
  if [ -n "${PEERS_KEEP:-}" ]; then echo "peers.sh: outputs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- tools -----------------------------------------------------------------
step "building reprise, bench/gencorpus and bench/target"
if [ -n "${PEERS_REPLAY:-}" ]; then
  [ -x "$PEERS_REPLAY" ] || die "PEERS_REPLAY=$PEERS_REPLAY is not an executable replay binary"
  cp "$PEERS_REPLAY" "$work/replay"
else
  timeout 600 go build -o "$work/replay" ./cmd/replay
fi
timeout 600 go build -o "$work/gencorpus" ./bench/gencorpus
timeout 600 go build -o "$work/target" ./bench/target

modversion() { # BINARY: the vegeta module version it was built from
  go version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 ~ /tsenart\/vegeta/ {print $3}'
}
vegeta=${VEGETA:-}
if [ -z "$vegeta" ]; then
  for c in "$(command -v vegeta || true)" "$bin/vegeta"; do
    if [ -n "$c" ] && [ -x "$c" ] && [ "$(modversion "$c")" = v12.13.0 ]; then vegeta=$c; break; fi
  done
fi
if [ -z "$vegeta" ]; then
  step "installing vegeta v12.13.0 into $bin (go install)"
  mkdir -p "$bin"
  GOBIN=$bin timeout 600 go install github.com/tsenart/vegeta/v12@v12.13.0 || die "go install of vegeta failed"
  vegeta=$bin/vegeta
fi
vegeta_version=$(modversion "$vegeta")
vegeta_version=${vegeta_version:-unknown}

wrk=$(command -v wrk || true)
if [ -z "$wrk" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  step "installing wrk from Debian (apt-get install -y wrk)"
  { timeout 600 apt-get install -y wrk || { timeout 600 apt-get update && timeout 600 apt-get install -y wrk; }; } >"$work/apt.log" 2>&1 || true
  wrk=$(command -v wrk || true)
fi
wrk_version=
if [ -n "$wrk" ]; then
  # "wrk debian/4.1.0-3+b2 [epoll] ..." gives 4.1.0
  wrk_version=$({ "$wrk" --version 2>&1 || true; } | awk 'NR == 1 {print $2}' | sed 's#.*/##; s/-.*//')
else
  step "wrk not found and not installable here (needs root and apt-get): its column stays empty"
fi

# --- target ----------------------------------------------------------------
url=
start_target() {
  rm -f "$work/target.out" "$work/target.err"
  GOMAXPROCS=1 taskset -c "$target_cpu" "$work/target" -listen 127.0.0.1:0 >"$work/target.out" 2>"$work/target.err" &
  target_pid=$!
  url=
  for _ in $(seq 100); do
    url=$(head -n1 "$work/target.out" 2>/dev/null || true)
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  die "bench/target did not start: $(cat "$work/target.err")"
}
stop_target() { # NAME: keeps the count of requests the target served in NAME.served
  kill -INT "$target_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$target_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$target_pid" 2>/dev/null || true
  wait "$target_pid" 2>/dev/null || true
  target_pid=
  grep -o 'served [0-9]*' "$work/target.err" | awk '{print $2}' >"$work/$1.served" || true
}

# measure NAME LIMIT CMD...: runs CMD on the generators' core under a time
# limit; its CPU, peak RSS and elapsed time go to NAME.time, its output to
# NAME.out and NAME.err.
measure() {
  local name=$1 limit=$2
  shift 2
  local rc=0
  timeout -k 5 "$limit" /usr/bin/time -f '%U %S %M %e' -o "$work/$name.time" \
    taskset -c "$gen_cpu" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if [ $rc = 124 ] || [ $rc = 137 ]; then die "$name: over its limit of $limit s"; fi
  if [ $rc != 0 ]; then die "$name exited $rc: $(tail -n3 "$work/$name.err")"; fi
}

# --- corpora ---------------------------------------------------------------
fixed_requests=$((rate * seconds))
step "corpora: $requests requests for the max-rate replay, $fixed_requests recorded at $rate/s"
timeout 600 "$work/gencorpus" -requests "$requests" -users "$users" -rate "$rate" -ws 0 -seed 1 -out "$work/max.rpz" >&2
timeout 600 "$work/gencorpus" -requests "$fixed_requests" -users "$users" -rate "$rate" -ws 0 -seed 2 -out "$work/fixed.rpz" >&2
timeout 60 "$work/gencorpus" -requests 200 -users 8 -rate "$rate" -ws 0 -seed 3 -out "$work/probe.rpz" >/dev/null

# Does this build have a max-rate mode? An older one refuses --speed max.
start_target
if timeout 60 "$work/replay" run "$work/probe.rpz" --target "$url" --speed max --max-in-flight "$conns" -q >"$work/probe.out" 2>"$work/probe.err"; then
  max_flags=(--speed max)
elif grep -q -- '--speed' "$work/probe.err"; then
  max_flags=(--speed 1000000 --max-lag 1h)
else
  die "replay run failed on a 200-request corpus: $(tail -n3 "$work/probe.err")"
fi
stop_target probe
max_mode="${max_flags[*]} --max-in-flight $conns"

# vegeta's targets: the first 10,000 requests of reprise's max-rate corpus
# (same methods, paths, headers and bodies), taken in turn; wrk sends one
# of them, GET /v1/sessions, as it has no bodies without a script.
timeout 300 "$work/gencorpus" -requests 10000 -users "$users" -rate "$rate" -ws 0 -seed 1 -out "$work/vegeta.rpz" >/dev/null
timeout 300 "$work/replay" inspect --jsonl "$work/vegeta.rpz" | timeout 300 python3 -c '
import base64, json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r.get("kind") != "exchange":
        continue
    q = r["exchange"]["request"]
    header = {}
    for name, value in q.get("headers", []):
        if name.lower() not in ("host", "content-length"):
            header.setdefault(name, []).append(value)
    t = {"method": q["method"], "url": "http://TARGET" + q["url"], "header": header}
    if q.get("body"):
        t["body"] = base64.b64encode(q["body"].encode()).decode()
    print(json.dumps(t))
' >"$work/targets.tmpl"
[ "$(wc -l <"$work/targets.tmpl")" = 10000 ] || die "vegeta targets: $(wc -l <"$work/targets.tmpl") of 10000 requests converted"
vegeta_targets() { sed "s#http://TARGET/#$url/#" "$work/targets.tmpl" >"$work/targets.json"; }

# --- (a, b, d) max rate ------------------------------------------------------
step "max rate: vegeta -rate=0 -max-workers=$conns, ${seconds}s"
start_target
vegeta_targets
measure vmax $((seconds + 60)) "$vegeta" attack -rate=0 -max-workers="$conns" -duration="${seconds}s" -format=json -targets="$work/targets.json" -output="$work/vmax.bin"
stop_target vmax
timeout 300 "$vegeta" report -type=json "$work/vmax.bin" >"$work/vmax.json"
rm -f "$work/vmax.bin"

if [ -n "$wrk" ]; then
  step "max rate: wrk -t1 -c$conns, ${seconds}s"
  start_target
  measure wmax $((seconds + 60)) "$wrk" -t1 -c"$conns" -d"${seconds}s" -H 'Authorization: Bearer bench-user' "$url/v1/sessions"
  stop_target wmax
fi

step "max rate: reprise, $requests requests, $max_mode"
start_target
measure rmax 900 "$work/replay" run "$work/max.rpz" --target "$url" "${max_flags[@]}" --max-in-flight "$conns" -q --out json="$work/rmax.json"
stop_target rmax

# --- (c) fixed rate --------------------------------------------------------
step "fixed rate: vegeta -rate=$rate/s, ${seconds}s"
start_target
vegeta_targets
measure vfix $((seconds + 60)) "$vegeta" attack -rate="$rate/s" -duration="${seconds}s" -format=json -targets="$work/targets.json" -output="$work/vfix.bin"
stop_target vfix
timeout 300 "$vegeta" report -type=json "$work/vfix.bin" >"$work/vfix.json"
rm -f "$work/vfix.bin"

step "fixed rate: reprise --speed 1, $fixed_requests requests recorded at $rate/s"
start_target
measure rfix $((seconds + 120)) "$work/replay" run "$work/fixed.rpz" --target "$url" --speed 1 -q --out json="$work/rfix.json"
stop_target rfix

# --- table -----------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$work SECONDS_PER_STEP=$seconds RATE=$rate REQUESTS=$requests CONNS=$conns USERS=$users \
  VEGETA_VERSION=$vegeta_version WRK_VERSION=$wrk_version MAX_MODE=$max_mode \
  LOAD_START=$load_start LOAD_END=$load_end QUICK=$quick NCPU=$ncpu \
  CPU_MODEL="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
  python3 - <<'EOF'
import json, os, re

env = os.environ
work = env["WORK"]

def path(name):
    return os.path.join(work, name)

def timing(name):
    """user+sys CPU seconds and peak RSS (MB) of a measured step."""
    u, s, m, e = open(path(name + ".time")).read().split()[-4:]
    return float(u) + float(s), int(m) / 1024.0, float(e)

def served(name):
    try:
        return int(open(path(name + ".served")).read().strip())
    except (OSError, ValueError):
        return None

rows = {}  # tool -> figures

def vegeta(name):
    r = json.load(open(path(name + ".json")))
    ok = int(r.get("status_codes", {}).get("200", 0))
    secs = (r["duration"] + r["wait"]) / 1e9
    cpu, rss, _ = timing(name)
    return dict(ok=ok, sent=r["requests"], errors=r["requests"] - ok, rate=ok / secs, cpu=cpu, rss=rss, served=served(name))

def reprise(name):
    d = json.load(open(path(name + ".json")))
    o = d["overall"]
    ok = int(o.get("status_classes", {}).get("2xx", 0))
    acc = d["accounting"]
    secs = d["meta"]["duration_ns"] / 1e9
    cpu, rss, _ = timing(name)
    failed = sum(acc.get("failed", {}).values()) if acc.get("failed") else 0
    not_sent = sum(acc.get("not_sent", {}).values()) if acc.get("not_sent") else 0
    lag = (o.get("schedule_lag") or {}).get("p99_ms")
    return dict(ok=ok, sent=o["requests"], errors=acc["scheduled"] - ok, scheduled=acc["scheduled"],
                failed=failed, not_sent=not_sent, rate=ok / secs, cpu=cpu, rss=rss, lag=lag, served=served(name))

def wrk(name):
    out = open(path(name + ".out")).read()
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    n, secs = int(m.group(1)), float(m.group(2)) * (0.001 if m.group(3) == "ms" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    ok = n - (int(bad.group(1)) if bad else 0)
    cpu, rss, _ = timing(name)
    return dict(ok=ok, sent=n, errors=errors, rate=ok / secs, cpu=cpu, rss=rss, served=served(name))

vmax, rmax, vfix, rfix = vegeta("vmax"), reprise("rmax"), vegeta("vfix"), reprise("rfix")
wmax = wrk("wmax") if os.path.exists(path("wmax.out")) else None

def us_per_req(r):
    return 1e6 * r["cpu"] / r["ok"] if r and r["ok"] else None

def per_cpu_s(r):
    return r["ok"] / r["cpu"] if r and r["cpu"] > 0 else None

def fmt(v, spec="{:,.0f}", unit=""):
    return "—" if v is None else spec.format(v) + unit

def ratio(a, b):
    return None if a is None or not b else a / b

seconds, rate, requests, conns = env["SECONDS_PER_STEP"], int(env["RATE"]), int(env["REQUESTS"]), env["CONNS"]
wv = env.get("WRK_VERSION") or "absent"
print()
print("reprise side by side (bench/peers.sh%s)" % (" --quick" if env["QUICK"] == "1" else ""))
print("machine: %s cores, %s; load average %s at the start, %s at the end" % (env["NCPU"], env["CPU_MODEL"], env["LOAD_START"], env["LOAD_END"]))
print("target: bench/target, GOMAXPROCS=1, its own core; generators on another core; %s s per step; %s connections at max rate" % (seconds, conns))
print("reprise max rate: %s requests of a synthetic corpus (%s users), %s" % (f"{requests:,}", env["USERS"], env["MAX_MODE"]))
print()
cols = ("", "reprise", "vegeta " + env["VEGETA_VERSION"], "wrk " + wv)
line = lambda c: print(c[0].ljust(42) + "".join(x.rjust(20) for x in c[1:]))
line(cols)
line(("max rate (req/s)", fmt(rmax["rate"]), fmt(vmax["rate"]), fmt(wmax and wmax["rate"])))
line(("CPU per request at max (µs)", fmt(us_per_req(rmax), "{:.1f}"), fmt(us_per_req(vmax), "{:.1f}"), fmt(us_per_req(wmax), "{:.1f}")))
line((f"requests per CPU-second at {rate:,}/s", fmt(per_cpu_s(rfix)), fmt(per_cpu_s(vfix)), "—"))
line((f"dispatch lateness p99 at {rate:,}/s (ms)", fmt(rfix["lag"], "{:.2f}"), "—", "—"))
line(("peak RSS at max rate (MB)", fmt(rmax["rss"], "{:.0f}"), fmt(vmax["rss"], "{:.0f}"), fmt(wmax and wmax["rss"], "{:.0f}")))
line((f"peak RSS at {rate:,}/s (MB)", fmt(rfix["rss"], "{:.0f}"), fmt(vfix["rss"], "{:.0f}"), "—"))
print()
mr = ratio(rmax["rate"], vmax["rate"])
er = ratio(per_cpu_s(rfix), per_cpu_s(vfix))
cr = ratio(us_per_req(vmax), us_per_req(rmax))
met = lambda ok: "met" if ok else "not met"
print("reprise / vegeta:")
print("  max rate ratio                              %s   (goal >= 1.0: %s)" % (fmt(mr, "{:.2f}x"), met(mr is not None and mr >= 1)))
print(f"  CPU-efficiency ratio at {rate:,}/s            ".ljust(46) + "%s   (requests per CPU-second; goal >= 1.0: %s)" % (fmt(er, "{:.2f}x"), met(er is not None and er >= 1)))
print("  CPU-efficiency ratio at max                 %s   (vegeta's CPU per request over reprise's)" % fmt(cr, "{:.2f}x"))
print("  reprise peak RSS at max rate                %s   (goal <= 300 MB for 100,000 requests: %s)" % (
    fmt(rmax["rss"], "{:.0f} MB"), met(rmax["rss"] <= 300) if requests == 100000 else "corpus is not 100,000 requests"))
print()
print("checks:          answered 200        sent   not 200    target served")
for name, r in (("vegeta max", vmax), ("wrk max", wmax), ("reprise max", rmax), ("vegeta fixed", vfix), ("reprise fixed", rfix)):
    if r is None:
        continue
    extra = ""
    if "scheduled" in r:
        extra = "   (%s scheduled, %s failed, %s not sent)" % (f"{r['scheduled']:,}", f"{r['failed']:,}", f"{r['not_sent']:,}")
    print("  %-14s %14s %11s %9s %16s%s" % (name, f"{r['ok']:,}", f"{r['sent']:,}", f"{r['errors']:,}", fmt(r["served"]), extra))
achieved = rfix["rate"], vfix["rate"]
print(f"  achieved at {rate:,}/s: reprise {achieved[0]:,.0f}/s, vegeta {achieved[1]:,.0f}/s")
EOF
