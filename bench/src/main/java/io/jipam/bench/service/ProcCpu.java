package io.jipam.bench.service;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time (user + system) a running process has used so far, as the kernel accounts it:
 * {@code utime + stime} of {@code /proc/<pid>/stat}, in clock ticks of 10 ms (USER_HZ is 100 in
 * the Linux ABI for /proc). A figure per call is always a difference over a window divided by the
 * calls in it, so the tick is spread over thousands of calls. Linux only. Stateless.
 */
public final class ProcCpu {
  private static final double MILLIS_PER_TICK = 10.0;

  private ProcCpu() {}

  /** Whether {@code /proc/self/stat} can be read here. */
  public static boolean available() {
    return Files.isReadable(Path.of("/proc/self/stat"));
  }

  /** User + system CPU of process {@code pid} so far, in milliseconds (a multiple of 10). */
  public static double millis(long pid) {
    Path stat = Path.of("/proc", Long.toString(pid), "stat");
    String text;
    try {
      text = Files.readString(stat);
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + stat + " (has the process exited?)", e);
    }
    // fields after the command name (in parentheses, may contain spaces): index 0 is field 3
    // (state), so utime and stime, fields 14 and 15 in proc(5), are indexes 11 and 12
    String[] f = text.substring(text.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * MILLIS_PER_TICK;
  }

  /** This JVM's CPU so far, in milliseconds. */
  public static double self() {
    return millis(ProcessHandle.current().pid());
  }
}
