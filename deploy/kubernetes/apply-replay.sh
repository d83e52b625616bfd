#!/bin/sh
# Applies replay-job.yaml with one start time for all its shards: now plus
# LEAD seconds (default 120), in UTC, as the Job's START_AT, which every
# pod passes to replay run --start-at. Each pod reads the corpus and checks
# the target, then waits for that time, so the shards send their first
# events together however late their pods were scheduled (within the lead).
#
#   deploy/kubernetes/apply-replay.sh [LEAD_SECONDS]
#
# KUBECTL names the kubectl command (default kubectl); extra kubectl apply
# options go in KUBECTL_ARGS (for example "-n loadtest").
set -eu

lead=${1:-120}
case $lead in
'' | *[!0-9]*)
	echo "apply-replay.sh: the lead must be a whole number of seconds (LEAD_SECONDS), got '$lead'" >&2
	exit 2
	;;
esac
if [ "$lead" -gt 86400 ]; then
	echo "apply-replay.sh: a lead of $lead s is more than a day; replay refuses a start that far ahead" >&2
	exit 2
fi

at=$(($(date -u +%s) + lead))
# GNU and busybox date take -d @SECONDS; BSD and macOS date take -r SECONDS.
start=$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$at" +%Y-%m-%dT%H:%M:%SZ)

dir=$(dirname "$0")
grep -q 'SET-BY-apply-replay.sh' "$dir/replay-job.yaml" || {
	echo "apply-replay.sh: $dir/replay-job.yaml has no START_AT placeholder (SET-BY-apply-replay.sh) to replace" >&2
	exit 1
}
# shellcheck disable=SC2086 # KUBECTL_ARGS is split on purpose
sed "s/SET-BY-apply-replay.sh/$start/" "$dir/replay-job.yaml" | ${KUBECTL:-kubectl} apply ${KUBECTL_ARGS:-} -f -
echo "apply-replay.sh: the shards of job/reprise-replay start at $start (in $lead s)" >&2
