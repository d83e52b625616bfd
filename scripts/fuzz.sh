#!/usr/bin/env bash
# Runs every native fuzz target of the module for FUZZTIME each (default 5m)
# and prints one line per target: package, target, executions, result.
# New crashers land in the package's testdata/fuzz/<Target>/ and must be
# kept as regression seeds.
#
#   scripts/fuzz.sh              # 5 minutes per target
#   FUZZTIME=30s scripts/fuzz.sh # a quick pass
#   scripts/fuzz.sh ./internal/corpus   # one package
#   FUZZPARALLEL=1 scripts/fuzz.sh      # one worker (default: one per core)
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5m}
parallel=()
[ -n "${FUZZPARALLEL:-}" ] && parallel=(-parallel "$FUZZPARALLEL")
pkgs=("$@")
[ ${#pkgs[@]} -eq 0 ] && pkgs=(./...)
status=0
for pkg in $(go list "${pkgs[@]}"); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    log=$(mktemp)
    # -fuzzminimizetime keeps a large seed from spending the budget on minimising.
    if go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "${parallel[@]}" >"$log" 2>&1; then
      result=ok
    else
      result=FAIL
      status=1
    fi
    execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    printf '%-48s %-22s execs=%-10s %s\n' "${pkg#github.com/reprise/reprise/}" "$target" "${execs:-?}" "$result"
    [ "$result" = FAIL ] && sed -n '1,40p' "$log"
    rm -f "$log"
  done
done
exit $status
