package io.jipam.bench.harness;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The JVM, flags and start-up cache flags the jipam plugin launcher uses, as {@code jipam-bench}'s
 * launcher exports them from {@code dist/lib/jvm.sh} ({@code JIPAM_JAVA_BIN}, {@code JIPAM_JVM_FLAGS},
 * {@code JIPAM_CACHE_FLAGS}); without them, this JVM and the plugin's default one-shot flags.
 * The hello-world floor runs on exactly these, with a cache of its own in place of jipam's.
 *
 * @param java the java executable
 * @param baseFlags the flags without the cache flags
 * @param cacheFlags jipam's start-up cache flags ({@code -XX:AOTCache=...} or
 *     {@code -XX:SharedArchiveFile=...}), empty when there is no cache
 */
public record PluginJvm(String java, List<String> baseFlags, List<String> cacheFlags) {
  /** The plugin's one-shot flags, as in dist/lib/jvm.sh. */
  static final List<String> DEFAULT_FLAGS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
      "-XX:-UsePerfData", "-Xlog:disable", "-Xlog:all=warning:stderr");

  public PluginJvm {
    baseFlags = List.copyOf(baseFlags);
    cacheFlags = List.copyOf(cacheFlags);
  }

  /** From the launcher's environment, or this JVM with the default flags. */
  public static PluginJvm fromEnvironment() {
    String java = System.getenv("JIPAM_JAVA_BIN");
    if (java == null || java.isBlank()) {
      return new PluginJvm(Path.of(System.getProperty("java.home"), "bin", "java").toString(), DEFAULT_FLAGS, List.of());
    }
    List<String> cache = split(System.getenv("JIPAM_CACHE_FLAGS"));
    List<String> base = new ArrayList<>(split(System.getenv("JIPAM_JVM_FLAGS")));
    base.removeAll(cache);
    return new PluginJvm(java, base.isEmpty() ? DEFAULT_FLAGS : base, cache);
  }

  /** Whether jipam's cache is a JDK 24+ AOT cache (else a CDS archive, else none). */
  public boolean aotCache() {
    return cacheFlags.stream().anyMatch(f -> f.startsWith("-XX:AOTCache"));
  }

  /** Whether jipam runs with a CDS archive. */
  public boolean cdsArchive() {
    return cacheFlags.stream().anyMatch(f -> f.startsWith("-XX:SharedArchiveFile"));
  }

  private static List<String> split(String flags) {
    if (flags == null || flags.isBlank()) {
      return List.of();
    }
    return Arrays.stream(flags.trim().split("\\s+")).toList();
  }
}
