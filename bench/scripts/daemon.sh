#!/usr/bin/env bash
# The plugin in daemon mode against the plugin on the file store directly, whole processes, in one
# hyperfine run:
#   1. jipam ADD (a new container each run), direct: the plugin opens the file store itself
#   2. jipam ADD through jipamd (file store, its own data dir) over the unix socket
#   3. jipam DEL of a held-nothing container, direct and through jipamd
#   4. with ETCD=1: jipam ADD through a jipamd on the etcd store (a local etcd on loopback)
#   5. what bounds daemon mode: a hello-world main on the plugin's JVM and flags, and the same
#      main opening a unix SocketChannel (the JDK initialises UnixDomainSockets, whose static
#      initialiser creates a SecureRandom), each with its own AOT cache (CDS archive before JDK 25)
# Needs hyperfine and a built dist/ (./mvnw -q -DskipTests package).
#   bench/scripts/daemon.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-40}
work=$(mktemp -d /tmp/jipam-daemon.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_ready() { for _ in $(seq 600); do grep -q ' jipamd ready' "$1" && return 0; sleep 0.05; done; cat "$1"; exit 1; }
dist/bin/jipamd --socket "$work/file.sock" --store file --data-dir "$work/daemon-data" 2> "$work/file.log" &
pids+=($!)
wait_ready "$work/file.log"
conf() { # name dataDir daemonJson
  printf '{"cniVersion":"1.0.0","name":"%s","ipam":{"type":"jipam","dataDir":"%s",%s"subnet":"198.18.0.0/16"}}' "$1" "$2" "$3"; }
conf direct "$work/direct-data" "" > "$work/direct.conf"
conf viadaemon "$work/unused" "\"daemon\":{\"socket\":\"$work/file.sock\"}," > "$work/daemon.conf"
cmds=(
  -n "ADD direct (file store)" "sh -c 'CNI_COMMAND=ADD CNI_CONTAINERID=c\$\$ $PWD/dist/bin/jipam < $work/direct.conf > /dev/null'"
  -n "ADD via jipamd (file store)" "sh -c 'CNI_COMMAND=ADD CNI_CONTAINERID=c\$\$ $PWD/dist/bin/jipam < $work/daemon.conf > /dev/null'"
  -n "DEL direct (file store)" "sh -c 'CNI_COMMAND=DEL CNI_CONTAINERID=unknown $PWD/dist/bin/jipam < $work/direct.conf > /dev/null'"
  -n "DEL via jipamd (file store)" "sh -c 'CNI_COMMAND=DEL CNI_CONTAINERID=unknown $PWD/dist/bin/jipam < $work/daemon.conf > /dev/null'"
)
if [ "${ETCD:-0}" = 1 ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  peer=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "default=http://127.0.0.1:$peer" > "$work/etcd.log" 2>&1 &
  pids+=($!)
  printf '{"type":"etcd","endpoints":["http://127.0.0.1:%s"],"node":"bench-node"}' "$port" > "$work/etcd.json"
  dist/bin/jipamd --socket "$work/etcd.sock" --store etcd --etcd-config "$work/etcd.json" 2> "$work/etcd-jipamd.log" &
  pids+=($!)
  wait_ready "$work/etcd-jipamd.log"
  conf viaetcd "$work/unused" "\"daemon\":{\"socket\":\"$work/etcd.sock\"}," > "$work/etcd.conf"
  cmds+=(-n "ADD via jipamd (etcd store)" "sh -c 'CNI_COMMAND=ADD CNI_CONTAINERID=c\$\$ $PWD/dist/bin/jipam < $work/etcd.conf > /dev/null'")
fi
lib=$PWD/dist/lib
. "$lib/jvm.sh"
mkdir -p "$work/floor"
cat > "$work/floor/Floor.java" <<'JAVA'
public class Floor {
  public static void main(String[] a) throws Exception {
    if (a.length > 0) {
      java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
    }
    System.out.println("hello");
    Runtime.getRuntime().halt(0);
  }
}
JAVA
javac_bin=$(dirname "$(readlink -f "$JIPAM_JAVA_BIN")")/javac
"$javac_bin" --release 17 -d "$work/floor" "$work/floor/Floor.java"
(cd "$work/floor" && "$(dirname "$javac_bin")/jar" cf floor.jar Floor.class)
for v in hello unix; do
  arg=; [ $v = unix ] && arg=unix
  case "$JIPAM_CACHE_FLAGS" in
    *AOTCache*) "$JIPAM_JAVA_BIN" $JIPAM_BASE_FLAGS -XX:AOTCacheOutput="$work/$v.aot" -cp "$work/floor/floor.jar" Floor $arg >/dev/null 2>&1
                eval "cache_$v=-XX:AOTCache=$work/$v.aot" ;;
    *SharedArchiveFile*) "$JIPAM_JAVA_BIN" $JIPAM_BASE_FLAGS -XX:ArchiveClassesAtExit="$work/$v.jsa" -cp "$work/floor/floor.jar" Floor $arg >/dev/null 2>&1
                eval "cache_$v=-XX:SharedArchiveFile=$work/$v.jsa" ;;
    *) eval "cache_$v=" ;;
  esac
done
# under the same sh -c wrapper as the plugin's rows
cmds+=(-n "JVM floor: hello world" "sh -c '$JIPAM_JAVA_BIN $JIPAM_BASE_FLAGS $cache_hello -cp $work/floor/floor.jar Floor > /dev/null'"
  -n "JVM floor + SocketChannel.open(UNIX)" "sh -c '$JIPAM_JAVA_BIN $JIPAM_BASE_FLAGS $cache_unix -cp $work/floor/floor.jar Floor unix > /dev/null'")
export CNI_NETNS=/var/run/netns/x CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/runs.json" "${cmds[@]}" > /dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# wall time is at the mercy of the machine's load; user+system CPU of the plugin process much less
python3 - "$work/runs.json" <<'PY'
import json, sys
rs = json.load(open(sys.argv[1]))["results"]
base = {r["command"]: r for r in rs}
print("| command | median ms | min ms | plugin process's user+sys CPU ms (jipamd's not counted) | CPU / direct ADD |")
print("|---|---:|---:|---:|---:|")
ref = rs[0]["user"] + rs[0]["system"]
for r in rs:
    cpu = r["user"] + r["system"]
    print(f"| {r['command']} | {r['median']*1000:.1f} | {r['min']*1000:.1f} | {cpu*1000:.1f} | {cpu/ref:.2f} |")
PY
