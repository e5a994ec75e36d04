package io.jipam.bench;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * {@code System.out} and {@code System.err} of this JVM, routed per run of the command line: what
 * a run's thread, and every thread it starts (progress bars, worker pools), prints goes into that
 * run's buffers; everything else goes to the console the JVM had.
 *
 * <p>Why: IT classes run side by side in one JVM, and {@code jipam-bench} prints to the JVM's
 * console. Swapping {@code System.out} for a run lost the output of another run going on at the
 * same time; routing by thread lets runs go on at once. The routes are installed once, on first
 * use, and never removed.
 *
 * <p>Thread safety: {@link #capture} may be called from any number of threads at once.
 */
final class ConsoleRoute {
  private static final Route OUT;
  private static final Route ERR;

  static {
    OUT = new Route(System.out);
    ERR = new Route(System.err);
    System.setOut(new PrintStream(OUT, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(ERR, true, StandardCharsets.UTF_8));
  }

  private ConsoleRoute() {}

  /** What a piece of work printed on {@code System.out} and {@code System.err}, and its result. */
  record Captured<T>(T result, String out, String err) {}

  /** Runs {@code work} on this thread with the console routed into fresh buffers. */
  static <T> Captured<T> capture(Supplier<T> work) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    OUT.target.set(out);
    ERR.target.set(err);
    T result;
    try {
      result = work.get();
    } finally {
      OUT.target.remove();
      ERR.target.remove();
    }
    return new Captured<>(result, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** Bytes to the calling thread's buffer (inherited by the threads it starts), else the console. */
  private static final class Route extends OutputStream {
    final InheritableThreadLocal<OutputStream> target = new InheritableThreadLocal<>();
    private final OutputStream console;

    Route(OutputStream console) {
      this.console = console;
    }

    private OutputStream sink() {
      OutputStream t = target.get();
      return t == null ? console : t;
    }

    @Override
    public void write(int b) throws java.io.IOException {
      sink().write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws java.io.IOException {
      sink().write(b, off, len);
    }

    @Override
    public void flush() throws java.io.IOException {
      sink().flush();
    }
  }
}
