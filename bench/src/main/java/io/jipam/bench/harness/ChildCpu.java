package io.jipam.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time (user + system) of this JVM's terminated child processes, as the kernel accounts it:
 * {@code cutime + cstime} of {@code /proc/self/stat}, the figure {@code getrusage(RUSAGE_CHILDREN)}
 * reports. A child's time is added when the JVM reaps it, which {@link Process#waitFor()} has done
 * by the time it returns, and includes the children it waited for itself.
 *
 * <h2>Resolution</h2>
 * The kernel keeps nanoseconds but {@code /proc} shows clock ticks (USER_HZ, 100 per second on
 * Linux), so one reading is exact to 10 ms. A per-call figure is therefore always a total over a
 * batch of calls divided by their count (the {@code calls} column of a {@link Sample}); over 40
 * calls the error is at most 0.25 ms per call. Any other child reaped during a batch would be
 * counted too: scenarios start nothing else while they measure.
 *
 * <p>Linux only; {@link #available()} says whether {@code /proc/self/stat} can be read.
 */
public final class ChildCpu {
  private static final Path STAT = Path.of("/proc/self/stat");
  /** USER_HZ: fixed at 100 in the Linux ABI for /proc on every architecture the JDK runs on. */
  private static final double MILLIS_PER_TICK = 10.0;

  private ChildCpu() {}

  /** Whether this system exposes children's CPU time. */
  public static boolean available() {
    return Files.isReadable(STAT);
  }

  /** User + system CPU of all reaped children so far, in milliseconds (a multiple of 10). */
  public static double millis() {
    String stat;
    try {
      stat = Files.readString(STAT);
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + STAT, e);
    }
    // the fields after the command name (in parentheses, may contain spaces): index 0 is field 3
    // (state), so cutime and cstime, fields 16 and 17 in proc(5), are indexes 13 and 14
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long cutime = Long.parseLong(f[13]);
    long cstime = Long.parseLong(f[14]);
    return (cutime + cstime) * MILLIS_PER_TICK;
  }
}
