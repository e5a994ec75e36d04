#!/bin/sh
# Builds the self-contained jipam bundle from a built dist/ (bin/, lib/):
#
#   dist/jipam-<version>-linux-amd64.tar.gz, unpacked into a CNI bin dir:
#     jipam                       the CNI plugin: a copy of the version's bin/jipam (the shim,
#                                 which finds the JVM plugin through jipam.d/current)
#     jipam.d/current             symlink to the version folder below
#     jipam.d/<version>-<hash>/   one version, never changed once installed:
#       runtime/                  a Java runtime made by jlink with only the modules the jars use
#       lib/                      the jars of dist/lib (and its sub-folders, e.g. etcd/), jvm.sh,
#                                 a jvm.env naming runtime/ and the caches relative to lib/,
#                                 jipam.aot: the AOT cache trained with runtime/ on this class path,
#                                 jipam-etcd.aot: the one for calls on the etcd store (lib/etcd too),
#                                 server/server.aot: jipamd's and jipamctl's, trained with
#                                 runtime/ on server/ (io.jipam.server.TrainingRun runs both)
#       bin/                      dist/bin's programs: jipam (the shim), jipam-jvm (the JVM
#                                 plugin's launcher), jipam-install, ...
#       BUILD                     version, content hash, Java version, modules
#
# <hash> is a digest of every file but the cache, so two builds of the same content share a
# version folder and an upgrade never rewrites a folder a node may be running from.
#
# The JDK is the one dist/lib/jvm.env names (the build's choice), or $JIPAM_BUNDLE_JDK (a JDK
# home); it must be JDK 25 or later (the AOT cache needs it). When the build's choice is older,
# there is no bundle and the build goes on; with JIPAM_BUNDLE_JDK that is an error. Modules: what `jdeps --list-deps` finds in
# every jar, plus jdk.naming.dns and jdk.crypto.ec, which are reached only through service
# lookups (DNS through JNDI, elliptic-curve TLS) and so are invisible to jdeps, minus the ones
# only unused optional paths of the libraries reach (OPTIONAL_MODULES below).
#
#   build-bundle.sh DIST VERSION WORKDIR
set -eu
export LC_ALL=C
dist=$(readlink -f "$1")
version=$2
work=$3
src=$(dirname "$(readlink -f "$0")")

fail() { echo "build-bundle: $*" >&2; exit 1; }
[ -d "$dist/lib" ] && [ -d "$dist/bin" ] || fail "$dist has no bin/ and lib/: build dist first"

jdk=${JIPAM_BUNDLE_JDK:-}
# without JIPAM_BUNDLE_JDK, a build JDK that cannot make the bundle means no bundle (the build of
# everything else goes on; the bundle's tests fail under CI and are skipped elsewhere)
unfit() {
  if [ -n "${JIPAM_BUNDLE_JDK:-}" ]; then fail "$*"; fi
  rm -f "$dist"/jipam-*-linux-amd64.tar.gz
  echo "build-bundle: no bundle: $*" >&2
  exit 0
}
if [ -z "$jdk" ]; then
  [ -r "$dist/lib/jvm.env" ] || fail "$dist/lib/jvm.env is missing (jipam-train-cache writes it)"
  java_bin=$(lib=$dist/lib; . "$dist/lib/jvm.env"; printf '%s' "$JIPAM_JAVA_BIN")
  jdk=$(dirname "$(dirname "$(readlink -f "$(command -v "$java_bin")")")")
fi
for tool in jlink jdeps java; do
  [ -x "$jdk/bin/$tool" ] || unfit "$jdk has no bin/$tool: the bundle needs a full JDK (set JIPAM_BUNDLE_JDK)"
done
feature=$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 \
  | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
[ "${feature:-0}" -ge 25 ] || unfit "$jdk is Java ${feature:-?}: the bundle's AOT cache needs JDK 25 or later (set JIPAM_BUNDLE_JDK)"

# the build's JDK tools (the source launcher, jdeps, jlink) run once each on a few dozen jars: C1
# and the serial collector spend less CPU on that than C2 and G1 (jdeps 11.0 s of user + system
# time against 6.8, jlink 6.6 against 3.9, ClassPathCopy 2.5 against 1.6) for the same output
tool_jvm="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
tool_j="-J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC"

rm -rf "$work"
stage=$work/stage
tmpv=$stage/jipam.d/building
mkdir -p "$tmpv/bin" "$tmpv/lib"

# jars and launchers: everything dist has, but the dev tree's JVM choice, its caches and trainer,
# and the benchmark harness (lib/bench, bin/jipam-bench: a developer's tool, not a node's; the
# bench module may be writing them while this runs, as the build runs modules side by side)
for f in "$dist"/lib/*; do
  case ${f##*/} in jvm.env|jipam.aot|jipam-etcd.aot|jipam.jsa|bench) ;; *) cp -a "$f" "$tmpv/lib/" ;; esac
done
rm -f "$tmpv"/lib/server/*.aot "$tmpv"/lib/server/*.aot.tmp
# a jar that lib/server (jipamd's class path) and lib or lib/etcd (the plugin's) both hold is stored
# once, the other name a hard link to it: 41 of lib/etcd's 42 jars, 17 MB; tar and jipam-install's
# cp -a keep the links. Before the caches are trained, which record each jar's size and time.
for f in "$tmpv"/lib/*.jar "$tmpv"/lib/etcd/*.jar; do
  s=$tmpv/lib/server/${f##*/}
  if [ -f "$f" ] && [ -f "$s" ] && cmp -s "$f" "$s"; then ln -f "$s" "$f"; fi
done
for f in "$dist"/bin/*; do
  case ${f##*/} in jipam-train-cache|jipam-bench) ;; *) cp -p "$f" "$tmpv/bin/" ;; esac
done
cp "$src/jvm.env" "$tmpv/lib/jvm.env"
[ -x "$tmpv/bin/jipam" ] && [ -x "$tmpv/bin/jipam-jvm" ] || fail "$dist/bin has no jipam (shim) or jipam-jvm"
chmod 755 "$tmpv"/bin/*

jars=$(find "$tmpv/lib" -name '*.jar' | sort)
# jdeps reads copies without module descriptors: the launchers run every jar on the class path,
# and some jars declare modules that need plain jars jdeps cannot resolve as modules
# shellcheck disable=SC2086
"$jdk/bin/java" $tool_jvm "$src/ClassPathCopy.java" "$work/deps-jars" $jars
# every module a jar refers to (--list-deps, not the reduced --print-module-deps: leaving a module
# out below must not drop one it alone required; entries of JDK-internal packages name their module)
# shellcheck disable=SC2086
deps=$("$jdk/bin/jdeps" $tool_j --ignore-missing-deps --multi-release "$feature" --list-deps "$work/deps-jars"/*.jar \
  | sed 's/^ *//; s|/.*||' | grep -E '^[a-z][a-z0-9.]*$' | sort -u)
rm -rf "$work/deps-jars"
# Left out although jdeps names them (jdeps -verbose:class shows who): java.desktop (java.beans in
# snakeyaml's JavaBean introspection, jackson-databind's ConstructorProperties support, micrometer's
# Log4j2 binder), java.sql (gson's and jackson-databind's java.sql.Date adapters, which look for the
# module first, protobuf-java-util's Timestamps), java.xml (jackson-databind's adapters of
# javax.xml types, looked up by name) and java.compiler (Vert.x's compiler for .java verticles,
# errorprone's annotations). jipam uses none of those paths; without them (and java.prefs and
# java.datatransfer, which only they require) the runtime is 36 MB smaller. The bundle's tests run
# every launcher on it.
OPTIONAL_MODULES="java.desktop java.sql java.xml java.compiler"
modules=
for m in $deps; do
  case " $OPTIONAL_MODULES " in *" $m "*) ;; *) modules=$modules${modules:+,}$m ;; esac
done
for extra in jdk.naming.dns jdk.crypto.ec; do
  if "$jdk/bin/java" --list-modules | grep -q "^$extra@"; then modules=$modules,$extra; fi
done
# shellcheck disable=SC2086
"$jdk/bin/jlink" $tool_j --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --output "$tmpv/runtime"

# the version folder's name: a digest of its content (the cache is not reproducible, so not in it)
hash=$(cd "$tmpv" && find . -type f | sort | xargs sha256sum | sha256sum | cut -c1-12)
name=$version-$hash
cat > "$tmpv/BUILD" <<EOF
version=$version
build=$hash
java=$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')
modules=$modules
EOF
mv "$tmpv" "$stage/jipam.d/$name"
v=$stage/jipam.d/$name
ln -s "$name" "$stage/jipam.d/current"
cp -p "$v/bin/jipam" "$stage/jipam"

# train the AOT caches with the bundled runtime, on the class paths the launchers compute; the
# three trainings are independent and run side by side (each mostly one JVM thread), each with
# its own log, and every one ends before the verdict
lib=$v/lib
. "$lib/jvm.sh"
base="$JIPAM_BASE_FLAGS $JIPAM_JDK_FLAGS"
# the etcd cache, on the class path jvm.sh gives a call the shim hints is on etcd
ecp=$JIPAM_CLASSPATH
for jar in "$lib"/etcd/*.jar; do ecp="$ecp:$jar"; done
# jipamd's and jipamctl's, with bin/jipamd's heap flags (as jipam-train-cache trains the dev tree's)
scp=
for jar in "$lib"/server/*.jar; do scp="$scp${scp:+:}$jar"; done
# shellcheck disable=SC2086
"$JIPAM_JAVA_BIN" $base "-XX:AOTCacheOutput=$lib/jipam.aot" -cp "$JIPAM_CLASSPATH" \
  io.jipam.plugin.TrainingRun >/dev/null 2>"$work/plugin.log" &
plugin_pid=$!
# shellcheck disable=SC2086
"$JIPAM_JAVA_BIN" $base "-XX:AOTCacheOutput=$lib/jipam-etcd.aot" -cp "$ecp" \
  io.jipam.plugin.TrainingRun etcd >/dev/null 2>"$work/etcd.log" &
etcd_pid=$!
"$JIPAM_JAVA_BIN" -Xlog:disable -Xlog:all=warning:stderr -Xmx192m -XX:MaxDirectMemorySize=96m \
  --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED \
  "-XX:AOTCacheOutput=$lib/server/server.aot" -cp "$scp" \
  io.jipam.server.TrainingRun >/dev/null 2>"$work/server.log" &
server_pid=$!
failed=
# trained PID LOG CACHE WHAT: the training's verdict; its log on stderr when it failed
trained() {
  if ! wait "$1" || [ ! -s "$3" ]; then
    cat "$2" >&2
    echo "build-bundle: training $4 failed (or wrote no $3)" >&2
    failed=1
  fi
}
trained "$plugin_pid" "$work/plugin.log" "$lib/jipam.aot" "the AOT cache"
trained "$etcd_pid" "$work/etcd.log" "$lib/jipam-etcd.aot" "the etcd AOT cache"
trained "$server_pid" "$work/server.log" "$lib/server/server.aot" "lib/server's AOT cache"
[ -z "$failed" ] || fail "training a start-up cache failed"

out=$dist/jipam-$version-linux-amd64.tar.gz
rm -f "$dist"/jipam-*-linux-amd64.tar.gz
tar -C "$stage" --owner=0 --group=0 --numeric-owner -cf - jipam jipam.d | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
echo "jipam bundle: $out ($(du -k "$out" | cut -f1) KiB; runtime modules $modules)"
