package io.jipam.bench.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Directories the bench creates and removes. A work folder made by {@link #temporary} is removed
 * when the bench ends, by its scenario's {@link #deleteTree} or, when the run is stopped (Ctrl-C,
 * SIGTERM: the JVM's shutdown hooks run, a scenario's {@code finally} does not), by a shutdown hook.
 * Thread-safe.
 */
public final class Dirs {
  /** Work folders made and not yet removed. */
  private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      for (Path p : LIVE) {
        try {
          deleteTree(p);
        } catch (IOException | RuntimeException e) {
          System.err.println("jipam-bench: could not remove " + p + ": " + e.getMessage());
        }
      }
    }, "jipam-bench-cleanup"));
  }

  private Dirs() {}

  /** A new work folder under the system's temporary folder, removed at the latest when the JVM ends. */
  public static Path temporary(String prefix) throws IOException {
    Path p = Files.createTempDirectory(prefix);
    LIVE.add(p);
    return p;
  }

  /** A new work folder under {@code parent}, removed at the latest when the JVM ends. */
  public static Path temporary(Path parent, String prefix) throws IOException {
    Path p = Files.createTempDirectory(parent, prefix);
    LIVE.add(p);
    return p;
  }

  /** Removes {@code root} and everything under it; nothing when it does not exist. */
  public static void deleteTree(Path root) throws IOException {
    LIVE.remove(root);
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
