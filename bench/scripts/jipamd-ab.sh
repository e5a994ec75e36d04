#!/usr/bin/env bash
# Two builds of a node's jipamd side by side: one jipamd from each dist (file store, its own data
# dir and socket, --log-calls), both warmed up with WARM ADD+DEL pairs through each dist's own shim
# (dist/bin/jipam: a build's whole exec path, so a change to the shim alone is measured too), then PAIRS
# pairs to each, interleaved (each pair to one then the other, the order swapped every pair), so
# both see the same minutes of this machine. Prints for each its CPU per call (utime + stime of
# /proc/PID/stat over the measured pairs) and its own time per call from its call log: duration_us
# (p50, p99) and answer_us (the answer ready, before it is written and the connection closed); and
# the client's wall time per call (the shim's exec to its exit, as the runtime waits for it).
#   bench/scripts/jipamd-ab.sh DIST_A DIST_B [PAIRS] [WARM]   (each DIST: a folder holding dist/)
set -euo pipefail
a_root=$(cd "$1" && pwd); b_root=$(cd "$2" && pwd)
pairs=${3:-800}; warm=${4:-300}
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/jipamd-ab.XXXXXX)
pids=()
# jipamd writes its file store's stamps back as it stops: the folder goes once both have exited
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
start() { # NAME ROOT
  "$2/dist/bin/jipamd" --socket "$work/$1.sock" --store file --data-dir "$work/$1" --log-calls 2> "$work/$1.log" &
  pids+=($!)
  for _ in $(seq 600); do grep -q " jipamd ready" "$work/$1.log" && return; sleep 0.1; done
  echo "jipamd $1 not ready within 60 s:" >&2; cat "$work/$1.log" >&2; exit 1
}
mkdir -p "$work/a" "$work/b"
start a "$a_root"; start b "$b_root"
export CNI_IFNAME=eth0 CNI_NETNS=/var/run/netns/x CNI_PATH=/usr/lib/cni
conf() { echo '{"cniVersion":"1.0.0","name":"ab","ipam":{"type":"jipam","daemon":{"socket":"'"$work/$1.sock"'"},"subnet":"198.18.0.0/24"}}'; }
ca=$(conf a); cb=$(conf b)
shim_a="$a_root/dist/bin/jipam"; shim_b="$b_root/dist/bin/jipam"
walls=0 # set to 1 for the measured pairs: each call's wall time (exec to exit, µs) into SIDE.wall
call() { # SHIM CONF COMMAND ID SIDE
  local t0=${EPOCHREALTIME/./}
  CNI_COMMAND=$3 CNI_CONTAINERID=$4 "$1" <<< "$2" > /dev/null
  ((walls)) && echo $(( ${EPOCHREALTIME/./} - t0 )) >> "$work/$5.wall"
  return 0
}
pair() { call "$1" "$2" ADD "$3" "$4"; call "$1" "$2" DEL "$3" "$4"; }
for i in $(seq "$warm"); do pair "$shim_a" "$ca" "w$i" a; pair "$shim_b" "$cb" "w$i" b; done
walls=1
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
a0=$(cpu "${pids[0]}"); b0=$(cpu "${pids[1]}")
for i in $(seq "$pairs"); do
  if (( i % 2 )); then pair "$shim_a" "$ca" "p$i" a; pair "$shim_b" "$cb" "p$i" b
  else pair "$shim_b" "$cb" "p$i" b; pair "$shim_a" "$ca" "p$i" a; fi
done
a1=$(cpu "${pids[0]}"); b1=$(cpu "${pids[1]}")
hz=$(getconf CLK_TCK); n=$((2 * pairs))
report() { # NAME ROOT TICKS
  grep "call method=CNI" "$work/$1.log" | tail -n "$n" > "$work/$1.calls"
  sed -n 's/.* duration_us=\([0-9]*\).*/\1/p' "$work/$1.calls" | sort -n > "$work/$1.us"
  sed -n 's/.* answer_us=\([0-9]*\).*/\1/p' "$work/$1.calls" | sort -n > "$work/$1.answer"
  sort -n "$work/$1.wall" -o "$work/$1.wall"
  at() { sed -n "$(( ($1 * n + 99) / 100 ))p" "$2"; }
  echo "$1 ($2): CPU per call $(( $3 * 1000000 / hz / n )) us; own time p50 $(at 50 "$work/$1.us") us, p90 $(at 90 "$work/$1.us") us, p99 $(at 99 "$work/$1.us") us; answer ready p50 $(at 50 "$work/$1.answer") us, p99 $(at 99 "$work/$1.answer") us; client's wall time p50 $(at 50 "$work/$1.wall") us, p99 $(at 99 "$work/$1.wall") us"
}
report a "$a_root" $((a1 - a0))
report b "$b_root" $((b1 - b0))
