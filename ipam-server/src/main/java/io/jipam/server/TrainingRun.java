package io.jipam.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The training run of lib/server's AOT cache, which jipamd and jipamctl both start from
 * (dist/bin/jipam-train-cache and the bundle's build run it under {@code -XX:AOTCacheOutput}, with
 * bin/jipamd's heap flags): first jipamd as a node runs it, from a config file (unix socket, file
 * store, /metrics on loopback), started in this process; once it logs "ready", {@code args[0]}
 * ADD+DEL pairs (default 100) and one call with a bad config through its socket as the shim sends
 * them; then a SIGTERM to this process, which jipamd's handler turns into its clean stop. Then
 * jipamctl's commands ({@link io.jipam.ctl.TrainingRun}). So the cache holds what jipamd loads
 * and links from its start to its stop, the profiles of its CNI path, and what jipamctl's common
 * commands load: one cache for the one class path (two caches cost 39 MB more in the bundle, and
 * jipamctl starts about as fast from this one as from its own). Everything is in new temp dirs,
 * deleted afterwards; jipamd's log is printed only when the run fails. Exit 0 when every call was
 * answered as expected, jipamd stopped with 0 and every jipamctl command exited as expected, else 1.
 */
public final class TrainingRun {
  private TrainingRun() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    int code = jipamd(args.length > 0 ? Integer.parseInt(args[0]) : 100);
    System.exit(code == 0 ? io.jipam.ctl.TrainingRun.run() : code);
  }

  /** jipamd's part: 0 when every call was answered as expected and jipamd stopped with 0, else 1. */
  private static int jipamd(int pairs) throws IOException, InterruptedException {
    PrintStream realErr = System.err;
    ReadyWatch log = new ReadyWatch();
    Path dir = Files.createTempDirectory("jipamd-training");
    int code = 1;
    try {
      Path socket = dir.resolve("j.sock");
      Path config = dir.resolve("jipamd.yaml");
      Files.writeString(config, "socket: " + socket + "\nstore: file\ndata-dir: " + dir.resolve("data")
          + "\nmetrics: \"127.0.0.1:0\"\n");
      System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
      int[] exit = {-1};
      Thread jipamd = new Thread(() -> exit[0] = Jipamd.run(new String[] {"--config", config.toString()},
          System.getenv(), null, null), "jipamd-training");
      jipamd.setDaemon(true); // a failed run must end with its exit code, not wait on jipamd forever
      jipamd.start();
      if (log.ready.await(120, TimeUnit.SECONDS)) {
        String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"training\",\"ipam\":{\"type\":\"jipam\","
            + "\"daemon\":{\"socket\":\"" + socket + "\"},\"subnet\":\"198.18.0.0/24\","
            + "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}";
        int bad = -1;
        try {
          for (int i = 0; i < pairs; i++) {
            WarmUp.call(socket, "ADD", "t" + i, conf);
            WarmUp.call(socket, "DEL", "t" + i, WarmUp.withPrevResult(conf, i));
          }
          bad = WarmUp.exit(socket, "ADD", "bad", conf.replace("198.18.0.0/24", "198.18.0.0/99"));
        } catch (IOException | RuntimeException e) {
          realErr.println("jipamd training: a call failed: " + e);
        }
        sun.misc.Signal.raise(new sun.misc.Signal("TERM"));
        jipamd.join(TimeUnit.SECONDS.toMillis(60));
        code = bad == 1 && exit[0] == 0 ? 0 : 1;
      }
    } finally {
      System.setErr(realErr);
      WarmUp.delete(dir);
    }
    if (code != 0) {
      realErr.println("jipamd training failed; its log:\n" + log.text());
    }
    return code;
  }

  /** jipamd's stderr, kept, with a latch that opens at its "ready" line. */
  private static final class ReadyWatch extends OutputStream {
    final CountDownLatch ready = new CountDownLatch(1);
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    @Override
    public synchronized void write(int b) {
      bytes.write(b);
      if (b == '\n' && text().contains(" jipamd ready\n")) {
        ready.countDown();
      }
    }

    synchronized String text() {
      return bytes.toString(StandardCharsets.UTF_8);
    }
  }
}
