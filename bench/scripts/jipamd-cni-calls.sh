#!/usr/bin/env bash
# A node's jipamd serving CNI calls, measured alone: WARM untimed ADD+DEL pairs through the shim
# (dist/bin/jipam in daemon mode, file store, an empty /24), then PAIRS pairs one after the other,
# nothing else in between (bench/scripts/shim.sh interleaves host-local's calls for its ratio).
# Prints jipamd's CPU per call over those PAIRS pairs (utime and stime from /proc/PID/stat) and its
# own time per call from its call log (--log-calls: duration_us, from the request's headers to the
# answer written and the connection closed): p50, p99, max; and of it the time to the answer ready
# (answer_us, before writing). PIN=1 runs jipamd on core 0 and the shim on core 1 (taskset): the
# shim, woken by jipamd's write and close, then cannot run on jipamd's core inside those calls.
# JIPAMD_JAVA_OPTS reaches jipamd's JVM (a JFR recording, say); KEEP_CALLS=FILE keeps the measured
# calls' log lines there.
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
pid=$jipamd_pid
if [ "${PIN:-0}" = 1 ]; then
  taskset -a -p -c 0 "$pid" > /dev/null
  call() { CNI_COMMAND=$1 CNI_CONTAINERID=$2 taskset -c 1 dist/bin/jipam <<< "$conf" > /dev/null; }
  echo "pinned: jipamd on core 0, the shim on core 1"
fi
warm_up "$warm"
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
for i in $(seq "$pairs"); do call ADD "p$i"; call DEL "p$i"; done
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
n=$((2 * pairs))
hz=$(getconf CLK_TCK)
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$n" -v w=$((2 * warm)) -v hz="$hz" 'BEGIN {
  printf "jipamd CPU per call over %d calls after %d warm-up: user %.0f us + system %.0f us = %.0f us\n",
    n, w, u * 1e6 / hz / n, s * 1e6 / hz / n, (u + s) * 1e6 / hz / n }'
grep "call method=CNI" "$work/jipamd.log" | tail -n "$n" > "$work/calls"
[ -z "${KEEP_CALLS:-}" ] || cp "$work/calls" "$KEEP_CALLS"
sed -n 's/.* duration_us=\([0-9]*\).*/\1/p' "$work/calls" | sort -n > "$work/us"
sed -n 's/.* answer_us=\([0-9]*\).*/\1/p' "$work/calls" | sort -n > "$work/answer"
at() { sed -n "$(( ($1 * n + 99) / 100 ))p" "$work/${2:-us}"; }
echo "jipamd's own time per CNI call: p50 $(at 50) us, p99 $(at 99) us, max $(tail -1 "$work/us") us"
echo "  of it to the answer ready (before writing it and closing): p50 $(at 50 answer) us, p99 $(at 99 answer) us"
