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
  java -cp "bench/target/classes:bench/target/lib/*" io.jipam.bench.server.JipamdThroughput \
    "unix:$work/$name.sock" 64 4 3 "$seconds" | sed "s/^/$name: /"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
run memory --store memory
run file --store file --data-dir "$work/data"
run file-fsync --store file --fsync --data-dir "$work/data-fsync"
