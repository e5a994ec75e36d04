package io.jipam.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;

/**
 * Another process holding an exclusive lock on a file: {@link FileChannel#lock}, the POSIX record
 * lock the file store's pool lock is, which a process holds against every other process (within
 * one JVM it would only conflict with the same JVM's own channels). Started by {@link #hold},
 * released by {@link #close} (the child reads its stdin to the end, then exits, and the lock goes
 * with it). A test fixture; its main is the child.
 */
public final class FileLockHolder implements AutoCloseable {
  private final Process child;

  private FileLockHolder(Process child) {
    this.child = child;
  }

  /**
   * A child JVM holding the lock of {@code file} (created when missing), returned once it holds it.
   *
   * @throws IOException when the child cannot start or does not say it holds the lock
   */
  public static FileLockHolder hold(Path file) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx32m", "-cp",
        System.getProperty("java.class.path"), FileLockHolder.class.getName(), file.toString()))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine(); // blocks until the child holds the lock, or ends
    if (!"locked".equals(line)) {
      p.destroyForcibly();
      throw new IOException("the lock holder for " + file + " said " + line);
    }
    return new FileLockHolder(p);
  }

  /** Releases the lock: the child ends, and the lock with it. */
  @Override
  public void close() throws IOException {
    child.getOutputStream().close();
    try {
      if (!child.waitFor(Duration.ofSeconds(30).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
        child.destroyForcibly();
      }
    } catch (InterruptedException e) {
      child.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  public static void main(String[] args) throws IOException {
    Path file = Path.of(args[0]);
    Files.createDirectories(file.toAbsolutePath().getParent());
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.CREATE);
        var lock = channel.lock()) {
      System.out.println("locked");
      System.out.flush();
      System.in.transferTo(java.io.OutputStream.nullOutputStream()); // until the parent closes it
    }
  }
}
