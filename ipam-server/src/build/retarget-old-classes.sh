#!/bin/sh
# Rewrites the Java 5 class files of the given jars (picocli's, in dist/lib/server) as class
# version 52, so that jipamd's and jipamctl's AOT cache can hold them (RetargetOldClasses.java
# says why and how). Needs JDK 24 or later (java.lang.classfile): $JIPAM_JAVA if set, else the
# newest under /usr/lib/jvm, else `java` on PATH. Without one the jars stay as they are, which
# costs only start-up time (and an AOT cache needs JDK 25 anyway).
#   retarget-old-classes.sh JAR...
set -eu
here=$(dirname "$(readlink -f "$0")")
feature_of() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
}
java_bin=${JIPAM_JAVA:-}
if [ -z "$java_bin" ]; then
  for candidate in /usr/lib/jvm/*; do
    [ -x "$candidate/bin/java" ] || continue
    if [ "$(feature_of "$candidate/bin/java")" -ge 24 ] 2>/dev/null; then java_bin=$candidate/bin/java; fi
  done
fi
java_bin=${java_bin:-$(command -v java || true)}
if [ -z "$java_bin" ] || ! [ "$(feature_of "$java_bin")" -ge 24 ] 2>/dev/null; then
  echo "retarget-old-classes: no JDK 24 or later; left unchanged: $*"
  exit 0
fi
exec "$java_bin" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "$here/RetargetOldClasses.java" "$@"
