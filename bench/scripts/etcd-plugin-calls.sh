#!/usr/bin/env bash
# Direct-mode plugin calls on the etcd store: wall time and CPU per call through the shim
# (dist/bin/jipam, which hints the launcher to start from the etcd cache) and through
# dist/bin/jipam-jvm without the hint (the client's classes from the jars), next to host-local-store
# calls through the shim; N calls of each kind interleaved (ADDs of fresh attachments, then their
# DELs), against a single-member etcd started here on loopback (/usr/bin/etcd). Every call must
# exit 0 and print nothing on stderr. Needs a build (./mvnw -q -DskipTests package).
#   bench/scripts/etcd-plugin-calls.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-15}
dist=$PWD/dist
work=$(mktemp -d /tmp/etcd-plugin-calls.XXXXXX)
port=$((30000 + RANDOM % 2000))
command -v etcd >/dev/null || { echo "etcd-plugin-calls.sh: needs etcd on PATH (apt-get install etcd-server)" >&2; exit 1; }
etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$port" \
  --advertise-client-urls "http://127.0.0.1:$port" --listen-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-cluster "default=http://127.0.0.1:$((port + 1))" > "$work/etcd.log" 2>&1 &
etcd_pid=$!
trap 'kill "$etcd_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
etcd_conf='{"cniVersion":"1.0.0","name":"cost","ipam":{"type":"jipam","store":{"type":"etcd","endpoints":["http://127.0.0.1:'$port'"],"node":"n1","prefix":"/cost"},"ranges":[[{"subnet":"198.18.6.0/24"}]]}}'
file_conf='{"cniVersion":"1.0.0","name":"cost","ipam":{"type":"jipam","dataDir":"'$work'/data","ranges":[[{"subnet":"198.18.7.0/24"}]]}}'
call() { # LABEL LAUNCHER COMMAND CONTAINER CONFIG
  if ! env -i PATH=/usr/bin:/bin CNI_COMMAND="$3" CNI_CONTAINERID="$4" CNI_NETNS=/x CNI_IFNAME=eth0 \
      CNI_PATH=/usr/lib/cni /usr/bin/time -f "$1 $3 %e %U %S" -a -o "$work/times" "$2" <<< "$5" \
      > /dev/null 2> "$work/stderr" || [ -s "$work/stderr" ]; then
    echo "etcd-plugin-calls: $1 $3 $4 failed or wrote on stderr:" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
}
for command in ADD DEL; do
  for i in $(seq "$n"); do
    call "shim, etcd cache" "$dist/bin/jipam" "$command" "s$i" "$etcd_conf"
    call "jipam-jvm, no hint" "$dist/bin/jipam-jvm" "$command" "j$i" "$etcd_conf"
    call "shim, host-local store" "$dist/bin/jipam" "$command" "f$i" "$file_conf"
  done
done
echo "| call | through | mean wall time | CPU (user + sys) |"
echo "|---|---|---:|---:|"
awk '{ k = $(NF - 3); l = $0; sub(/ (ADD|DEL) [0-9.]+ [0-9.]+ [0-9.]+$/, "", l); key = k " | " l
  w[key] += $(NF - 2); c[key] += $(NF - 1) + $NF; m[key]++ }
  END { for (key in w) { split(key, p, " \\| ")
    printf "| %s | %s | %.0f ms | %.0f ms |\n", p[1], p[2], 1000 * w[key] / m[key], 1000 * c[key] / m[key] } }' \
  "$work/times" | sort -t'|' -k2,2 -k3,3
