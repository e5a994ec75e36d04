#!/usr/bin/env bash
# Size and ADD time of the bundle install next to the build-tree install, in one hyperfine run:
#   1. build-tree install: dist/bin/jipam-install (launcher naming the JDK under /usr/lib/jvm and
#      dist/lib's jars and cache)
#   2. bundle install: the bundle unpacked, then jipam.d/current/bin/jipam-install (jlink'd
#      runtime, its own AOT cache)
# ADD: a new container each run against an empty /16 in a temp dir; DEL of an unknown container.
# Then the same four calls interleaved (one of each per round, RUNS rounds), timed with bash's
# $EPOCHREALTIME: median and minimum per call, which a machine whose load drifts during the
# hyperfine runs affects alike for all four.
# Needs hyperfine (apt-get install hyperfine) and a build (./mvnw -q -DskipTests package).
#   bench/scripts/bundle.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-40}
bundle=$(ls dist/jipam-*-linux-amd64.tar.gz)
work=$(mktemp -d /tmp/jipam-bundle-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
dist/bin/jipam-install "$work/tree-bin" >/dev/null
mkdir "$work/unpacked"
tar -xzf "$bundle" -C "$work/unpacked"
"$work/unpacked/jipam.d/current/bin/jipam-install" "$work/bundle-bin" >/dev/null
lib=$PWD/dist/lib
. "$lib/jvm.sh"
jdk=$(dirname "$(dirname "$(readlink -f "$JIPAM_JAVA_BIN")")")
kib() { du -sk "$@" | awk '{s += $1} END {print s}'; }
echo "bundle file:            $(( $(stat -c %s "$bundle") / 1024 )) KiB ($bundle)"
echo "bundle installed:       $(kib "$work/bundle-bin") KiB (launcher + jipam.d: runtime $(kib "$work/bundle-bin"/jipam.d/current/runtime/) KiB, lib $(kib "$work/bundle-bin"/jipam.d/current/lib/) KiB)"
echo "build-tree install:     $(kib dist/lib) KiB of dist/lib + the JDK it names, $(kib "$jdk") KiB ($jdk)"
conf() { printf '{"cniVersion":"1.0.0","name":"bench","ipam":{"type":"jipam","dataDir":"%s","subnet":"198.18.0.0/16"}}' "$work/data-$1"; }
conf tree > "$work/tree.conf"
conf bundle > "$work/bundle.conf"
export CNI_NETNS=/var/run/netns/x CNI_IFNAME=eth0 CNI_PATH=/nonexistent
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$work/table.md" \
  -n "build-tree install: ADD" "sh -c 'CNI_COMMAND=ADD CNI_CONTAINERID=c\$\$ $work/tree-bin/jipam < $work/tree.conf > /dev/null'" \
  -n "bundle install: ADD" "sh -c 'CNI_COMMAND=ADD CNI_CONTAINERID=c\$\$ $work/bundle-bin/jipam < $work/bundle.conf > /dev/null'" \
  -n "build-tree install: DEL" "sh -c 'CNI_COMMAND=DEL CNI_CONTAINERID=unknown $work/tree-bin/jipam < $work/tree.conf > /dev/null'" \
  -n "bundle install: DEL" "sh -c 'CNI_COMMAND=DEL CNI_CONTAINERID=unknown $work/bundle-bin/jipam < $work/bundle.conf > /dev/null'"
cat "$work/table.md"
echo
echo "interleaved, $runs rounds (ms):"
declare -A times
for ((i = 0; i < runs; i++)); do
  for what in "build-tree ADD" "bundle ADD" "build-tree DEL" "bundle DEL"; do
    case $what in
      build-tree*) plugin=$work/tree-bin/jipam; conf=$work/tree.conf ;;
      *) plugin=$work/bundle-bin/jipam; conf=$work/bundle.conf ;;
    esac
    case $what in *ADD) cmd=ADD; id=i$i ;; *) cmd=DEL; id=unknown ;; esac
    start=$EPOCHREALTIME
    CNI_COMMAND=$cmd CNI_CONTAINERID=$id "$plugin" < "$conf" > /dev/null
    end=$EPOCHREALTIME
    times[$what]+="$(( (${end/./} - ${start/./}) )) "
  done
done
printf '| call | median | min |\n|---|---:|---:|\n'
for what in "build-tree ADD" "bundle ADD" "build-tree DEL" "bundle DEL"; do
  # shellcheck disable=SC2086
  printf '%s\n' ${times[$what]} | sort -n | awk -v w="$what" '{v[NR] = $1} END {
    printf "| %s | %.1f | %.1f |\n", w, v[int((NR + 1) / 2)] / 1000, v[1] / 1000 }'
done
