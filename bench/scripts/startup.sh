#!/usr/bin/env bash
# Start-up cost of one jipam plugin call next to the JVM's floor, in one hyperfine run:
#   1. hello world: a main that prints a line, same JVM, same flags, its own AOT/CDS cache
#   2. jipam ADD (a new container each run) against an empty /16 in a temp dir
#   3. jipam DEL of an unknown container
#   4. the reference host-local ADD, for scale
# Each command runs under the same `sh -c` wrapper. Needs hyperfine (apt-get install hyperfine)
# and a built dist/ (./mvnw -q -DskipTests package).
#   bench/scripts/startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-40}
lib=$PWD/dist/lib
. "$lib/jvm.sh"
work=$(mktemp -d /tmp/jipam-startup.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/hello"
cat > "$work/hello/Hello.java" <<'JAVA'
public class Hello { public static void main(String[] a) { System.out.println("hello"); } }
JAVA
javac_bin=$(dirname "$(readlink -f "$JIPAM_JAVA_BIN")")/javac
"$javac_bin" --release 17 -d "$work/hello" "$work/hello/Hello.java"
(cd "$work/hello" && "$(dirname "$javac_bin")/jar" cf hello.jar Hello.class)
base="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xlog:disable -Xlog:all=warning:stderr"
case "$JIPAM_CACHE_FLAGS" in
  *AOTCache*) "$JIPAM_JAVA_BIN" $base -XX:AOTCacheOutput="$work/hello.aot" -cp "$work/hello/hello.jar" Hello >/dev/null
              hello_cache="-XX:AOTCache=$work/hello.aot" ;;
  *SharedArchiveFile*) "$JIPAM_JAVA_BIN" $base -XX:ArchiveClassesAtExit="$work/hello.jsa" -cp "$work/hello/hello.jar" Hello >/dev/null
              hello_cache="-XX:SharedArchiveFile=$work/hello.jsa" ;;
  *) hello_cache= ;;
esac
conf() { printf '{"cniVersion":"1.0.0","name":"startup","ipam":{"type":"%s","dataDir":"%s","subnet":"198.18.0.0/16"}}' "$1" "$work/$1"; }
conf jipam > "$work/jipam.conf"
conf host-local > "$work/host-local.conf"
export CNI_NETNS=/var/run/netns/x CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
echo "JVM: $JIPAM_JAVA_BIN; cache: ${JIPAM_CACHE_FLAGS:-none}"
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$work/table.md" \
  -n "hello world (JVM floor)" "sh -c '$JIPAM_JAVA_BIN $base $hello_cache -cp $work/hello/hello.jar Hello > /dev/null'" \
  -n "jipam ADD" "sh -c 'CNI_COMMAND=ADD CNI_CONTAINERID=c\$\$ $PWD/dist/bin/jipam < $work/jipam.conf > /dev/null'" \
  -n "jipam DEL" "sh -c 'CNI_COMMAND=DEL CNI_CONTAINERID=unknown $PWD/dist/bin/jipam < $work/jipam.conf > /dev/null'" \
  -n "host-local ADD" "sh -c 'CNI_COMMAND=ADD CNI_CONTAINERID=c\$\$ /usr/lib/cni/host-local < $work/host-local.conf > /dev/null'"
cat "$work/table.md"
