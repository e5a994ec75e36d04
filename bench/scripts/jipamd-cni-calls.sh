#!/usr/bin/env bash
# A node's jipamd serving CNI calls, measured alone: WARM untimed ADD+DEL pairs through the shim
# (dist/bin/jipam in daemon mode, file store, an empty /24), then PAIRS pairs one after the other,
# nothing else in between (bench/scripts/shim.sh interleaves host-local's calls for its ratio).
# Prints jipamd's CPU per call over those PAIRS pairs (utime and stime from /proc/PID/stat) and its
# own time per call from its call log (--log-calls: duration_us, from the request's headers to the
# answer written): p50, p99, max. JIPAMD_JAVA_OPTS reaches jipamd's JVM (a JFR recording, say).
# Needs a build (./mvnw -q -DskipTests package).
#   bench/scripts/jipamd-cni-calls.sh [PAIRS] [WARM]
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs=${1:-2000}
warm=${2:-500}
. bench/scripts/lib/node-jipamd.sh
node_jipamd_work jipamd-cni-calls
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
node_jipamd_start "$work" calls
warm_up "$warm"
pid=$jipamd_pid
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
for i in $(seq "$pairs"); do call ADD "p$i"; call DEL "p$i"; done
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
n=$((2 * pairs))
hz=$(getconf CLK_TCK)
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$n" -v w=$((2 * warm)) -v hz="$hz" 'BEGIN {
  printf "jipamd CPU per call over %d calls after %d warm-up: user %.0f us + system %.0f us = %.0f us\n",
    n, w, u * 1e6 / hz / n, s * 1e6 / hz / n, (u + s) * 1e6 / hz / n }'
grep "call method=CNI" "$work/jipamd.log" | tail -n "$n" | sed -n 's/.* duration_us=\([0-9]*\).*/\1/p' | sort -n > "$work/us"
at() { sed -n "$(( ($1 * n + 99) / 100 ))p" "$work/us"; }
echo "jipamd's own time per CNI call: p50 $(at 50) us, p99 $(at 99) us, max $(tail -1 "$work/us") us"
