# Sourced by the jipam launchers with $lib set to this folder: which JVM, class path and flags to
# start with. jvm.env, written by jipam-train-cache, names the JVM, this folder's canonical path
# (the class path must match the one the start-up cache was trained with) and the cache; without it
# the `java` on PATH runs without a cache. JIPAM_JAVA (a java binary) and JIPAM_JAVA_OPTS override.
# JIPAM_JDK_FLAGS, also from jvm.env, are flags only that JVM knows (on Java 23 and later: the
# libraries of the etcd store use sun.misc.Unsafe, which those JDKs warn about on stderr unless
# allowed); a JIPAM_JAVA of another version gets none.
#
# JIPAM_STORE_HINT=etcd (set by the shim when a direct-mode config names the etcd store) adds
# lib/etcd's jars to the class path and starts from the etcd cache (JIPAM_ETCD_CACHE_FLAGS,
# lib/jipam-etcd.aot), which holds the etcd client's classes: about half the CPU of an etcd call.
# The plugin's own cache stays without them, since a JVM loads every class of its cache at
# start-up (with them, a host-local call took three times as long). The hint never changes what a
# call does: without it an etcd call loads the client from lib/etcd in a class loader of its own.
JIPAM_JAVA_BIN=java
JIPAM_LIB=$lib
JIPAM_CACHE_FLAGS=
JIPAM_ETCD_CACHE_FLAGS=
JIPAM_JDK_FLAGS=
if [ -r "$lib/jvm.env" ]; then . "$lib/jvm.env"; fi
if [ -n "${JIPAM_JAVA:-}" ]; then
  JIPAM_JAVA_BIN=$JIPAM_JAVA; JIPAM_CACHE_FLAGS=; JIPAM_ETCD_CACHE_FLAGS=; JIPAM_JDK_FLAGS=
fi
JIPAM_CLASSPATH=
for jar in "$JIPAM_LIB"/*.jar; do JIPAM_CLASSPATH="$JIPAM_CLASSPATH${JIPAM_CLASSPATH:+:}$jar"; done
JIPAM_ETCD_CLASSPATH=
if [ "${JIPAM_STORE_HINT:-}" = etcd ]; then
  for jar in "$JIPAM_LIB"/etcd/*.jar; do
    [ -e "$jar" ] && JIPAM_ETCD_CLASSPATH="$JIPAM_ETCD_CLASSPATH:$jar"
  done
  if [ -n "$JIPAM_ETCD_CLASSPATH" ] && [ -n "$JIPAM_ETCD_CACHE_FLAGS" ]; then
    JIPAM_CLASSPATH=$JIPAM_CLASSPATH$JIPAM_ETCD_CLASSPATH
    JIPAM_CACHE_FLAGS=$JIPAM_ETCD_CACHE_FLAGS
  fi
fi
# One-shot process: serial GC, C1 only, no perf data file; JVM warnings to stderr, never stdout
# (the runtime parses stdout). Daemon mode's socket: the JDK's default selector provider named
# (no ServiceLoader scan of the class path) and reflection without spun method handles (the
# unix-socket code creates a SecureRandom reflectively); about 10 ms of CPU less per call.
# On the etcd store: Netty's buffer allocator without its JFR events (registering them cost a call
# about 0.1 s of CPU, for a recording no one-shot process makes).
# JIPAM_BASE_FLAGS is also what jipam-train-cache trains with, so that the cache holds what a call
# loads under these flags (trained without the two properties it held ~40 classes more, which every
# call loaded at start-up).
JIPAM_BASE_FLAGS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xlog:disable -Xlog:all=warning:stderr -Djava.nio.channels.spi.SelectorProvider=sun.nio.ch.EPollSelectorProvider -Djdk.reflect.useNativeAccessorOnly=true -Dio.netty.jfr.enabled=false"
JIPAM_JVM_FLAGS="$JIPAM_BASE_FLAGS $JIPAM_JDK_FLAGS $JIPAM_CACHE_FLAGS ${JIPAM_JAVA_OPTS:-}"
