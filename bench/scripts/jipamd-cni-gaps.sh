#!/usr/bin/env bash
# What a node jipamd's own time per CNI call is made of: after WARM ADD+DEL pairs through the shim
# (dist/bin/jipam in daemon mode, file store, an empty /24), PAIRS pairs from one JVM with no process
# started per call (io.jipam.bench.tools.CniCallLoop: the shim's request, one connection per call),
# once back to back and once for each pause GAP_MS after every call. Prints jipamd's own time per
# call from its call log (--log-calls: duration_us, from the request's first bytes to the answer
# written) for each: min, p50, p90, p99. jipamd-cni-calls.sh times the calls as the shim makes them.
# Needs a build (./mvnw -q -DskipTests package).
#   bench/scripts/jipamd-cni-gaps.sh [PAIRS] [WARM] [GAP_MS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs=${1:-1500}
warm=${2:-300}
shift 2 2>/dev/null || shift $#
gaps=("${@:-5}")
. bench/scripts/lib/node-jipamd.sh
node_jipamd_work jipamd-cni-gaps
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
node_jipamd_start "$work" calls
warm_up "$warm"
. dist/lib/jvm.env
loop() { "$JIPAM_JAVA_BIN" -cp "dist/lib/bench/*" io.jipam.bench.tools.CniCallLoop "$work/j.sock" "$@"; }
loop 300 0 w-loop- # the client's own warm-up
for gap in 0 "${gaps[@]}"; do
  before=$(grep -c "call method=CNI" "$work/jipamd.log" || true)
  loop "$pairs" "$gap" "g$gap-"
  grep "call method=CNI" "$work/jipamd.log" | tail -n +$((before + 1)) \
    | sed -n 's/.* duration_us=\([0-9]*\).*/\1/p' | sort -n > "$work/us"
  n=$(wc -l < "$work/us")
  at() { sed -n "$(( ($1 * n + 99) / 100 ))p" "$work/us"; }
  echo "pause $gap ms after each call, $n calls: jipamd's own time min $(head -1 "$work/us") us, p50 $(at 50) us, p90 $(at 90) us, p99 $(at 99) us"
done
