#!/usr/bin/env bash
# A fresh jipamd (file store, temp data dir) without and with its AOT cache (lib/server/server.aot;
# "without" sets JIPAM_JAVA to jvm.env's JVM, which drops the cache), alternately, RUNS times each:
# wall ms from start to "jipamd ready", its CPU ms then, the wall ms of one ADD through the shim
# after ready, jipamd's own time for that first call (call log), the median of its next 100 calls'
# (50 ADD+DEL pairs), and its CPU ms after those 101 calls. Needs a build (./mvnw -q -DskipTests package).
#   bench/scripts/jipamd-start.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
dist=$(readlink -f dist); runs=${1:-5}
J=$(lib=$dist/lib; . "$dist/lib/jvm.env"; printf '%s' "$JIPAM_JAVA_BIN")
hz=$(getconf CLK_TCK)
# the jipamd and folder of the run in progress, for the EXIT trap (a failed step, or Ctrl-C)
cur_pid=; cur_work=
trap '[ -z "$cur_pid" ] || { kill "$cur_pid" 2>/dev/null; wait "$cur_pid" 2>/dev/null; } || true; [ -z "$cur_work" ] || rm -rf "$cur_work"' EXIT
one() {
  local mode=$1 work; work=$(mktemp -d /tmp/jipamd-start.XXXXXX); cur_work=$work
  local t0 t1 t2 pid
  t0=$(date +%s%N)
  if [ $mode = cache ]; then $dist/bin/jipamd --socket $work/j.sock --store file --data-dir $work/d --log-calls 2> $work/log & 
  else JIPAM_JAVA=$J $dist/bin/jipamd --socket $work/j.sock --store file --data-dir $work/d --log-calls 2> $work/log & fi
  pid=$!; cur_pid=$pid
  for _ in $(seq 12000); do grep -q " jipamd ready" $work/log 2>/dev/null && break; sleep 0.005; done
  grep -q " jipamd ready" $work/log || { echo "jipamd not ready within 60 s:"; cat $work/log; kill $pid; exit 1; }
  t1=$(date +%s%N); cpu_ready=$(awk '{print $14+$15}' /proc/$pid/stat)
  conf='{"cniVersion":"1.0.0","name":"s","ipam":{"type":"jipam","daemon":{"socket":"'$work/j.sock'"},"subnet":"198.18.0.0/24"}}'
  CNI_COMMAND=ADD CNI_CONTAINERID=f CNI_IFNAME=eth0 CNI_NETNS=/x CNI_PATH=/usr/lib/cni $dist/bin/jipam <<< "$conf" >/dev/null
  t2=$(date +%s%N)
  first_us=$(grep "call method=CNI" $work/log | head -1 | sed -n 's/.* duration_us=\([0-9]*\).*/\1/p')
  for i in $(seq 50); do for c in ADD DEL; do CNI_COMMAND=$c CNI_CONTAINERID=p$i CNI_IFNAME=eth0 CNI_NETNS=/x CNI_PATH=/usr/lib/cni $dist/bin/jipam <<< "$conf" >/dev/null; done; done
  cpu_end=$(awk '{print $14+$15}' /proc/$pid/stat)
  next_p50=$(grep "call method=CNI" $work/log | tail -n +2 | sed -n 's/.* duration_us=\([0-9]*\).*/\1/p' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  kill $pid; wait $pid 2>/dev/null || true
  echo "$mode ready_ms=$(( (t1-t0)/1000000 )) cpu_at_ready_ms=$(( cpu_ready*1000/hz )) first_add_wall_ms=$(( (t2-t1)/1000000 )) first_call_us=$first_us next100_p50_us=$next_p50 cpu_after_101_calls_ms=$(( cpu_end*1000/hz ))"
  rm -rf $work
  cur_pid=; cur_work=
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq $runs); do one nocache; one cache; done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
