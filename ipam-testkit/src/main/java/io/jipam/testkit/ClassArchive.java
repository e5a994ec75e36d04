package io.jipam.testkit;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.jar.JarFile;

/**
 * A dynamic class-data-sharing archive for a child JVM that tests start many times on this JVM's
 * class path (jipamd above all): the child maps the classes of an earlier run instead of reading
 * and verifying them from jars, which about halves its start (jipamd to "ready" on JDK 17: about
 * 1.1 s of CPU without, 0.6 s with).
 *
 * <p>The first child {@linkplain #options asks} to record its classes
 * ({@code -XX:ArchiveClassesAtExit}, to a file of its own); the JVM writes them when that child
 * exits cleanly (SIGTERM or its own exit with 0, never SIGKILL), and {@link #exited} then publishes the
 * file with one rename, so no child ever maps a half-written archive. Until then, and when the
 * recording child dies uncleanly (the next child records), children start without it.
 *
 * <p>Design: CDS cannot archive classes loaded from a directory, and a JDK 17 child asked to
 * archive with a non-empty directory on its class path fails at exit. So the child's class path is
 * this JVM's without its directories, which holds the main class when the build packaged it first
 * (Maven's {@code verify} does, for the *IT tests); when it does not (an IDE run from
 * {@code target/classes}), the child gets the whole class path and no archive. The archive lives in
 * a temp directory of this JVM, deleted when it exits, so it never outlives the jars it was taken
 * from.
 *
 * <p>Thread-safe: children of one archive may start from any thread; at most one records at a time.
 */
public final class ClassArchive {
  private static final ConcurrentMap<String, ClassArchive> BY_MAIN = new ConcurrentHashMap<>();
  private static final String RECORD = "-XX:ArchiveClassesAtExit=";

  private final String mainClass;
  private final String classPath;
  private final Path archive;
  private final AtomicLong recordings = new AtomicLong();
  /** The file the child now recording writes, or null when none records. Guarded by this. */
  private Path recording;

  private ClassArchive(String mainClass, String classPath, Path archive) {
    this.mainClass = mainClass;
    this.classPath = classPath;
    this.archive = archive;
  }

  /** The archive of {@code mainClass} on this JVM's class path (one per main class and JVM). */
  public static ClassArchive of(String mainClass) {
    return BY_MAIN.computeIfAbsent(mainClass, ClassArchive::create);
  }

  /**
   * The archive of a launcher script that runs its own JVM on its own class path of jars (such as
   * {@code dist/bin/jipamctl}), one per name and JVM: its {@link #options} go to the launcher's JVM
   * (an environment variable it reads), and {@link #ended} is told when that JVM has exited. Every
   * child given these options must run the same JVM, with the same class path.
   */
  public static ClassArchive ofLauncher(String name) {
    return BY_MAIN.computeIfAbsent("launcher " + name, key -> {
      try {
        Path dir = Files.createTempDirectory("jipam-cds");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteAll(dir), "class-archive-delete"));
        return new ClassArchive(key, null, dir.resolve(name + ".jsa"));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  private static ClassArchive create(String mainClass) {
    String whole = System.getProperty("java.class.path");
    List<String> jars = new ArrayList<>();
    boolean directories = false;
    for (String entry : whole.split(File.pathSeparator)) {
      if (entry.isEmpty()) {
        continue;
      }
      if (Files.isDirectory(Path.of(entry))) {
        directories = true;
      } else {
        jars.add(entry);
      }
    }
    String classFile = mainClass.replace('.', '/') + ".class";
    if (directories && jars.stream().noneMatch(jar -> holds(jar, classFile))) {
      return new ClassArchive(mainClass, whole, null);
    }
    try {
      Path dir = Files.createTempDirectory("jipam-cds");
      Path archive = dir.resolve(mainClass + ".jsa");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteAll(dir), "class-archive-delete"));
      return new ClassArchive(mainClass, String.join(File.pathSeparator, jars), archive);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static boolean holds(String jar, String classFile) {
    try (JarFile j = new JarFile(jar)) {
      return j.getEntry(classFile) != null;
    } catch (IOException e) {
      return false;
    }
  }

  private static void deleteAll(Path dir) {
    try (var files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.deleteIfExists(f);
      }
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // a temp dir left behind at exit is harmless
    }
  }

  /** The class path a child must run with for this archive to apply (null for a launcher's). */
  public String classPath() {
    return classPath;
  }

  /** Whether children now map the archive (false before the first clean exit, or with no archive). */
  public boolean ready() {
    return archive != null && Files.isRegularFile(archive);
  }

  /**
   * JVM options for the next child: map the archive when it is ready, else record it if no other
   * child is recording, else none. A child given the record option must be reported to
   * {@link #exited} (or {@link #ended}) when it ends.
   */
  public List<String> options() {
    if (archive == null) {
      return List.of();
    }
    if (ready()) {
      return List.of("-XX:SharedArchiveFile=" + archive);
    }
    synchronized (this) {
      if (recording != null) {
        return List.of();
      }
      recording = archive.resolveSibling(archive.getFileName() + ".recording-" + recordings.incrementAndGet());
      // warnings about classes CDS skips would otherwise reach the child's stdout or stderr (where a
      // launcher sends the JVM's warnings) at its exit
      return List.of(RECORD + recording, "-Xlog:cds=off,cds+dynamic=off", "-Xlog:cds=off,cds+dynamic=off:stderr");
    }
  }

  /** JVM options for a child whose exit is not reported: map the archive when it is ready, else none. */
  public List<String> sharedOptions() {
    return ready() ? List.of("-XX:SharedArchiveFile=" + archive) : List.of();
  }

  /**
   * Reports that a child started with {@code command} exited with {@code exitCode}: if it is the
   * one recording an archive, publishes what it wrote when it exited cleanly (0, or 143 after
   * SIGTERM), else drops it and lets the next child record (killed, it may have left half an
   * archive; failed early, it loaded few of the classes later runs need). Other commands, and a
   * second report of the same child, are ignored, so callers may report every child, more than once.
   */
  public static void exited(List<String> command, int exitCode) {
    for (ClassArchive a : BY_MAIN.values()) {
      a.ended(command, exitCode);
    }
  }

  /** {@link #exited} for this archive: {@code options} are the child's JVM options or its whole command. */
  public synchronized void ended(List<String> options, int exitCode) {
    if (recording == null || !options.contains(RECORD + recording)) {
      return;
    }
    try {
      if ((exitCode == 0 || exitCode == 143) && Files.isRegularFile(recording) && Files.size(recording) > 0) {
        Files.move(recording, archive, StandardCopyOption.ATOMIC_MOVE);
      } else {
        Files.deleteIfExists(recording);
      }
    } catch (IOException e) {
      // no archive: children go on without one, and the next may record
    } finally {
      recording = null;
    }
  }

  @Override
  public String toString() {
    return mainClass + (archive == null ? " (no class archive: its classes are in a directory)"
        : ready() ? " + dynamic CDS archive" : " (class archive not yet recorded)");
  }
}
