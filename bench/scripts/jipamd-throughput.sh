#!/usr/bin/env bash
# jipamd throughput: allocate + release pairs over gRPC on its unix socket, 64 clients over 4
# connections, against a jipamd process per store (memory; file, and file with --fsync), in one
# run. Needs a built tree (./mvnw -q -DskipTests package).
#   bench/scripts/jipamd-throughput.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
work=$(mktemp -d /tmp/jipam-throughput.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
run() { # name, jipamd args...
  local name=$1; shift
  dist/bin/jipamd --socket "$work/$name.sock" "$@" 2> "$work/$name.log" &
  pid=$!
  for _ in $(seq 600); do grep -q ' jipamd ready' "$work/$name.log" && break; sleep 0.05; done
  local before after
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  java -cp "bench/target/classes:bench/target/lib/*" io.jipam.bench.server.JipamdThroughput \
    "unix:$work/$name.sock" 64 4 3 "$seconds" > "$work/$name.out"
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  grep -v '^total_pairs' "$work/$name.out" | sed "s/^/$name: /"
  # CPU per allocate+release pair, jipamd and the clients: what bounds throughput on 2 cores
  # whatever else runs on the machine
  awk -v name="$name" -v ticks="$((after - before))" -v hz="$(getconf CLK_TCK)" '
    /^total_pairs=/ { split($1, p, "="); split($2, c, "="); n = p[2]; server = ticks * 1000 / hz;
      printf "%s: %d pairs; CPU per pair: jipamd %.3f ms, clients %.3f ms; 2-core ceiling %.0f pairs/s\n",
        name, n, server / n, c[2] / n, 2000 / ((server + c[2]) / n) }' "$work/$name.out"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
run memory --store memory
run file --store file --data-dir "$work/data"
run file-fsync --store file --fsync --data-dir "$work/data-fsync"
