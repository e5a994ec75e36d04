#!/usr/bin/env bash
# jipamd throughput: allocate + release pairs over gRPC on its unix socket, 64 clients over 4
# connections (asynchronous: 64 calls in flight), against a jipamd process per store in one run:
# memory; file; file with --fsync; and, with ETCD=1, a one-member etcd started here, with the raw
# one-CAS-per-allocation ceiling measured on that same etcd right before jipamd runs on it.
# Needs a built tree (./mvnw -q -DskipTests package).
#   bench/scripts/jipamd-throughput.sh [SECONDS] [STORES...]     (stores: memory file file-fsync etcd)
#   WARMUP=S: at least S seconds of warm-up (default 3); JipamdThroughput goes on warming up until
#     the JIT compilers of jipamd and of itself have settled (at most 120 s)
#   JFR=DIR: record each jipamd with Java Flight Recorder into DIR/<store>.jfr
#   JIPAMD_ARGS="...": more jipamd options for every store, e.g. "--workers 64"
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
shift || true
stores=${*:-memory file file-fsync ${ETCD:+etcd}}
warmup=${WARMUP:-3}
work=$(mktemp -d /tmp/jipam-throughput.XXXXXX)
pid=
etcd_pid=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  [ -z "$etcd_pid" ] || kill "$etcd_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. dist/lib/jvm.env 2>/dev/null || true
java=${JIPAM_JAVA_BIN:-java}
cp="bench/target/classes:bench/target/lib/*"
run() { # name, jipamd args...
  local name=$1; shift
  local opts=${JIPAMD_JAVA_OPTS:-}
  if [ -n "${JFR:-}" ]; then
    mkdir -p "$JFR"
    opts="$opts -XX:StartFlightRecording=filename=$JFR/$name.jfr,settings=profile"
  fi
  JIPAMD_JAVA_OPTS=$opts dist/bin/jipamd --socket "$work/$name.sock" "$@" ${JIPAMD_ARGS:-} 2> "$work/$name.log" &
  pid=$!
  for _ in $(seq 600); do grep -q ' jipamd ready' "$work/$name.log" && break; sleep 0.05; done
  # CPU per pair is read over the measured window only (jipamd from /proc, the clients from their
  # JVM): with the machine shared, it is what bounds throughput, whatever else runs
  "$java" -cp "$cp" io.jipam.bench.tools.JipamdThroughput \
    "unix:$work/$name.sock" 64 4 "$warmup" "$seconds" "$pid" | sed "s/^/$name: /"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
start_etcd() {
  local port peer
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  peer=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$port" \
    --advertise-client-urls "http://127.0.0.1:$port" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "bench=http://127.0.0.1:$peer" \
    > "$work/etcd.log" 2>&1 &
  etcd_pid=$!
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.05
  done
  etcd_endpoint="http://127.0.0.1:$port"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $stores; do
  case $s in
    memory) run memory --store memory ;;
    file) run file --store file --data-dir "$work/data" ;;
    file-fsync) run file-fsync --store file --fsync --data-dir "$work/data-fsync" ;;
    etcd)
      start_etcd
      # the ceiling: each allocation one compare-and-swap transaction on the same etcd, with 8
      # clients (the etcd scenario's) and with 64 (jipamd's); the higher one is the ceiling
      "$java" -cp "$cp" io.jipam.bench.tools.RawCasCeiling "$etcd_endpoint" "$seconds" 8 64 | sed "s/^/etcd: /"
      printf '{"endpoints": ["%s"], "prefix": "/jipam-bench", "node": "bench"}\n' "$etcd_endpoint" \
        > "$work/etcd.json"
      run etcd --store etcd --etcd-config "$work/etcd.json"
      kill "$etcd_pid"; wait "$etcd_pid" 2>/dev/null || true; etcd_pid= ;;
    *) echo "unknown store $s" >&2; exit 2 ;;
  esac
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
