package io.jipam.plugin;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a CNI plugin executable the way a runtime does, for the integration tests. */
final class CniExec {
  static final Path DIST = Path.of(System.getProperty("jipam.dist", "../dist")).toAbsolutePath().normalize();
  /** The CNI plugin as runtimes run it: the native shim (ipam-shim). */
  static final Path JIPAM = DIST.resolve("bin/jipam");
  /** The JVM plugin's launcher, which the shim execs for every call it does not forward itself. */
  static final Path JIPAM_JVM = DIST.resolve("bin/jipam-jvm");
  static final Path REFERENCE_DIR = Path.of("/usr/lib/cni");
  static final Path HOST_LOCAL = REFERENCE_DIR.resolve("host-local");

  /** What a call printed and how it exited. */
  record Result(int exit, String stdout, String stderr) {
    @Override
    public String toString() {
      return "exit " + exit + "\nstdout: " + stdout + "\nstderr: " + stderr;
    }
  }

  private CniExec() {}

  static Map<String, String> env(String command, String containerId, String ifname, String netns) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    if (containerId != null) {
      env.put("CNI_CONTAINERID", containerId);
    }
    if (ifname != null) {
      env.put("CNI_IFNAME", ifname);
    }
    if (netns != null) {
      env.put("CNI_NETNS", netns);
    }
    env.put("CNI_PATH", JIPAM.getParent() + ":" + REFERENCE_DIR);
    return env;
  }

  static Result run(Path plugin, Map<String, String> env, String stdin) {
    return run(List.of(), plugin, env, stdin);
  }

  /** Runs {@code prefix... plugin} with exactly {@code env} (plus PATH) and {@code stdin}. */
  static Result run(List<String> prefix, Path plugin, Map<String, String> env, String stdin) {
    List<String> command = new ArrayList<>(prefix);
    command.add(plugin.toString());
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().clear();
    builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    builder.environment().putAll(env);
    try {
      Path out = Files.createTempFile("cni-out", ".json");
      Path err = Files.createTempFile("cni-err", ".txt");
      try {
        builder.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = builder.start();
        try {
          p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
          p.getOutputStream().close();
        } catch (IOException e) {
          // the plugin ended without reading all of stdin (the shim answers VERSION without
          // reading it): its answer is what counts
        }
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IllegalStateException(plugin + " did not finish within 120 s");
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
      } finally {
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * A copy of the shim in {@code dir/bin} whose JVM plugin ({@code jipam-jvm} beside it) is a
   * sentinel: it writes the stdin it gets to {@code record}, prints {@code JVM} and exits 42.
   */
  static Path shimWithSentinelJvm(Path dir, Path record) throws IOException {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path shim = bin.resolve("jipam");
    Files.copy(JIPAM, shim, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
    Path sentinel = bin.resolve("jipam-jvm");
    Files.writeString(sentinel, "#!/bin/sh\ncat > '" + record + "'\nprintf JVM\nexit 42\n");
    if (!sentinel.toFile().setExecutable(true)) {
      throw new IOException("cannot make " + sentinel + " executable");
    }
    return shim;
  }

  /** Runs a command line and returns its stdout; fails on a non-zero exit. */
  static String sh(String... command) {
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    try {
      Process p = builder.start();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
      }
      return output;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** True when the tests run under CI, where a missing prerequisite is a failure, not a skip. */
  static boolean underCi() {
    return "true".equals(System.getenv("CI"));
  }
}
