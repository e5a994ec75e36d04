# Sourced by the jipam launchers with $lib set to this folder: which JVM, class path and flags to
# start with. jvm.env, written by jipam-train-cache, names the JVM, this folder's canonical path
# (the class path must match the one the start-up cache was trained with) and the cache; without it
# the `java` on PATH runs without a cache. JIPAM_JAVA (a java binary) and JIPAM_JAVA_OPTS override.
# JIPAM_JDK_FLAGS, also from jvm.env, are flags only that JVM knows (on Java 23 and later: the
# libraries of the etcd store use sun.misc.Unsafe, which those JDKs warn about on stderr unless
# allowed); a JIPAM_JAVA of another version gets none.
JIPAM_JAVA_BIN=java
JIPAM_LIB=$lib
JIPAM_CACHE_FLAGS=
JIPAM_JDK_FLAGS=
if [ -r "$lib/jvm.env" ]; then . "$lib/jvm.env"; fi
if [ -n "${JIPAM_JAVA:-}" ]; then JIPAM_JAVA_BIN=$JIPAM_JAVA; JIPAM_CACHE_FLAGS=; JIPAM_JDK_FLAGS=; fi
JIPAM_CLASSPATH=
for jar in "$JIPAM_LIB"/*.jar; do JIPAM_CLASSPATH="$JIPAM_CLASSPATH${JIPAM_CLASSPATH:+:}$jar"; done
# One-shot process: serial GC, C1 only, no perf data file; JVM warnings to stderr, never stdout
# (the runtime parses stdout). Daemon mode's socket: the JDK's default selector provider named
# (no ServiceLoader scan of the class path) and reflection without spun method handles (the
# unix-socket code creates a SecureRandom reflectively); about 10 ms of CPU less per call.
# JIPAM_BASE_FLAGS is also what jipam-train-cache trains with, so that the cache holds what a call
# loads under these flags (trained without the two properties it held ~40 classes more, which every
# call loaded at start-up).
JIPAM_BASE_FLAGS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xlog:disable -Xlog:all=warning:stderr -Djava.nio.channels.spi.SelectorProvider=sun.nio.ch.EPollSelectorProvider -Djdk.reflect.useNativeAccessorOnly=true"
JIPAM_JVM_FLAGS="$JIPAM_BASE_FLAGS $JIPAM_JDK_FLAGS $JIPAM_CACHE_FLAGS ${JIPAM_JAVA_OPTS:-}"
