#!/usr/bin/env bash
# The native shim's exec path, measured outside jipam-bench's scenarios:
#   1. jipamd's own time per CNI call on its unix socket (file store), from its call log
#      (--log-calls: duration_us, from the request's headers to the answer written): WARM ADD+DEL
#      pairs through the shim first, then PAIRS pairs, one at a time; p50, p99, max.
#      Over the same PAIRS pairs: CPU per call of the shim processes (bash's `times`: the children's
#      user+sys) and of jipamd (utime+stime from /proc/PID/stat, from before the first block to after
#      the last, host-local's blocks included: work the calls leave to jipamd's JIT and GC threads is
#      done when it is done), and the same calls through host-local (empty /24, own data dir) in
#      blocks interleaved with the shim's, for the ratio; jipamd's CPU split by thread (JIT, event
#      loops, store workers, GC).
#   2. size on disk and peak RSS (GNU time's maximum resident set size) of one daemon-mode ADD
#      through the shim, next to one ADD of the reference host-local (empty /24, own data dir),
#      and of the JVM plugin (jipam-jvm) in direct mode for scale.
# Needs a build (./mvnw -q -DskipTests package) and GNU time (apt-get install time).
#   bench/scripts/shim.sh [PAIRS] [WARM]
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs=${1:-2000}
warm=${2:-300}
. bench/scripts/lib/node-jipamd.sh
node_jipamd_work jipam-shim-bench
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
node_jipamd_start "$work" shim
warm_up "$warm"
skip=$(grep -c "call method=CNI" "$work/jipamd.log" || true)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# the children's user+sys in ms: `times` must run in this shell (in $(...) it would report a subshell's)
children() {
  times > "$work/times"
  awk 'NR == 2 {gsub(/[ms]/, " "); printf "%d\n", ($1 * 60 + $2 + $3 * 60 + $4) * 1000 + 0.5}' "$work/times"
}
hz=$(getconf CLK_TCK)
hl_conf0='{"cniVersion":"1.0.0","name":"shim","ipam":{"type":"host-local","dataDir":"'$work/hl0'","subnet":"198.18.3.0/24"}}'
shim_ms=0; hl_ms=0
threads() { for t in /proc/"$jipamd_pid"/task/*; do echo "$(awk '{print $14 + $15}' "$t/stat") $(tr ' ' _ < "$t/comm")"; done \
  | awk '{n = $2; sub(/[#_]?[0-9]*$/, "", n); a[n] += $1} END {for (k in a) print k, a[k]}' | sort; }
threads > "$work/threads0"; jipamd0=$(ticks "$jipamd_pid")
# four blocks of each, interleaved, so that a change of the machine's load hits both alike
for block in 1 2 3 4; do
  children > "$work/c0"; c0=$(cat "$work/c0")
  for i in $(seq $(( (block - 1) * pairs / 4 + 1 )) $(( block * pairs / 4 ))); do call ADD "p$i"; call DEL "p$i"; done
  children > "$work/c1"; c1=$(cat "$work/c1")
  for i in $(seq $(( (block - 1) * pairs / 4 + 1 )) $(( block * pairs / 4 ))); do
    CNI_COMMAND=ADD CNI_CONTAINERID=h$i /usr/lib/cni/host-local <<< "$hl_conf0" > /dev/null
    CNI_COMMAND=DEL CNI_CONTAINERID=h$i /usr/lib/cni/host-local <<< "$hl_conf0" > /dev/null
  done
  children > "$work/c2"; c2=$(cat "$work/c2")
  shim_ms=$(( shim_ms + c1 - c0 )); hl_ms=$(( hl_ms + c2 - c1 ))
done
jipamd_ticks=$(( $(ticks "$jipamd_pid") - jipamd0 )); threads > "$work/threads1"
awk -v s="$shim_ms" -v j="$(( jipamd_ticks * 1000 / hz ))" -v h="$hl_ms" -v n="$(( 2 * pairs ))" 'BEGIN {
  printf "CPU per call over %d calls each: shim %.2f ms + jipamd %.2f ms = %.2f ms; host-local %.2f ms; ratio %.2fx\n",
    n, s / n, j / n, (s + j) / n, h / n, (s + j) / h }'
join -a 2 -e 0 -o 0,1.2,2.2 "$work/threads0" "$work/threads1" | awk -v n="$(( 2 * pairs ))" -v hz="$hz" '
  $3 > $2 {printf "%s%s %.2f", sep, $1, ($3 - $2) * 1000 / hz / n; sep = ", "} END {print " ms per call"}' \
  | sed 's/^/jipamd CPU by thread: /'
tail -n +1 "$work/jipamd.log" | grep "call method=CNI" | tail -n +"$((skip + 1))" \
  | sed -n 's/.* duration_us=\([0-9]*\).*/\1/p' | sort -n > "$work/us.txt"
n=$(wc -l < "$work/us.txt")
at() { sed -n "$(( ($1 * n + 99) / 100 ))p" "$work/us.txt"; }
echo "jipamd per CNI call on the unix socket (file store, $n calls after $((2 * warm)) warm-up): p50 $(at 50) us, p99 $(at 99) us, max $(tail -1 "$work/us.txt") us"
size() { stat -L -c %s "$1"; }
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
hl_conf='{"cniVersion":"1.0.0","name":"shim","ipam":{"type":"host-local","dataDir":"'$work/hl'","subnet":"198.18.1.0/24"}}'
jvm_conf='{"cniVersion":"1.0.0","name":"shim","ipam":{"type":"jipam","dataDir":"'$work/direct'","subnet":"198.18.2.0/24"}}'
echo "size: shim $(size dist/bin/jipam) bytes ($(file -b dist/bin/jipam | cut -d, -f1-2)); host-local $(size /usr/lib/cni/host-local) bytes"
echo "peak RSS of one ADD: shim in daemon mode $(CNI_COMMAND=ADD CNI_CONTAINERID=r1 rss dist/bin/jipam <<< "$conf") KiB;" \
  "host-local $(CNI_COMMAND=ADD CNI_CONTAINERID=r1 rss /usr/lib/cni/host-local <<< "$hl_conf") KiB;" \
  "JVM plugin in direct mode $(CNI_COMMAND=ADD CNI_CONTAINERID=r1 rss dist/bin/jipam-jvm <<< "$jvm_conf") KiB"
