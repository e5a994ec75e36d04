package io.jipam.plugin;

import io.jipam.testkit.Exec;
import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The built dist/ of this module's integration tests: where the plugin, jipamd and jipamctl are,
 * CNI environments, and runs of them through the testkit ({@link Exec}, {@link JipamdProcess}).
 */
final class CniExec {
  static final Path DIST = Path.of(System.getProperty("jipam.dist", "../dist")).toAbsolutePath().normalize();
  /** The CNI plugin as runtimes run it: the native shim (ipam-shim). */
  static final Path JIPAM = DIST.resolve("bin/jipam");
  /** The JVM plugin's launcher, which the shim execs for every call it does not forward itself. */
  static final Path JIPAM_JVM = DIST.resolve("bin/jipam-jvm");
  static final Path REFERENCE_DIR = Path.of("/usr/lib/cni");
  static final Path HOST_LOCAL = REFERENCE_DIR.resolve("host-local");
  static final Path JIPAMD = DIST.resolve("bin/jipamd");
  static final Path JIPAMCTL = DIST.resolve("bin/jipamctl");

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

  /** Runs {@code prefix... plugin} with exactly {@code env} (plus PATH) and {@code stdin} (the testkit's {@link Exec#cni}). */
  static Result run(List<String> prefix, Path plugin, Map<String, String> env, String stdin) {
    return run(prefix, plugin, env, stdin.getBytes(StandardCharsets.UTF_8));
  }

  /** Like {@link #run(List, Path, Map, String)} with raw bytes on stdin. */
  static Result run(List<String> prefix, Path plugin, Map<String, String> env, byte[] stdin) {
    Exec.Result r = Exec.cni(prefix, plugin, env, stdin);
    return new Result(r.exit(), r.stdout(), r.stderr());
  }

  /** The built jipamd with the file store in {@code dataDir} on {@code socket}, plus {@code args}; its log beside the socket. */
  static JipamdProcess fileJipamd(Path socket, Path dataDir, String... args) throws IOException {
    List<String> all = new ArrayList<>(List.of("--socket", socket.toString(), "--store", "file", "--data-dir",
        dataDir.toString()));
    all.addAll(List.of(args));
    return JipamdProcess.start(socket.getParent(), JipamdProcess.launcher(JIPAMD, all.toArray(String[]::new)),
        leanJvm(Map.of()));
  }

  /** The built jipamd with {@code args} and this environment plus {@code env}; its log in {@code dir}. */
  static JipamdProcess jipamd(Path dir, Map<String, String> env, String... args) throws IOException {
    return JipamdProcess.start(dir, JipamdProcess.launcher(JIPAMD, args), leanJvm(env));
  }

  /**
   * {@code env} plus the lean JVM options ({@link JipamdProcess#LEAN_JVM}: serial GC, C1 only)
   * for the launcher's JVM, unless {@code env} sets {@code JIPAMD_JAVA_OPTS} itself. These tests
   * start jipamd about a hundred times (one per hostile input and conformance case) and never
   * measure it; the options change no behaviour, and cut a start's CPU by about a third.
   */
  private static Map<String, String> leanJvm(Map<String, String> env) {
    if (env.containsKey("JIPAMD_JAVA_OPTS")) {
      return env;
    }
    Map<String, String> lean = new HashMap<>(env);
    lean.put("JIPAMD_JAVA_OPTS", (System.getenv().getOrDefault("JIPAMD_JAVA_OPTS", "") + " "
        + String.join(" ", JipamdProcess.LEAN_JVM)).trim());
    return lean;
  }

  /** Runs the built jipamctl with the arguments: its exit code, stdout and stderr. */
  static Result jipamctl(Path dir, String... args) {
    List<String> command = new ArrayList<>(List.of(JIPAMCTL.toString()));
    command.addAll(List.of(args));
    Exec.Result r = Exec.run(dir, command, null, new byte[0], java.time.Duration.ofMinutes(2));
    return new Result(r.exit(), r.stdout(), r.stderr());
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
    return Exec.sh(command);
  }

  /** True when the tests run under CI, where a missing prerequisite is a failure, not a skip. */
  static boolean underCi() {
    return Exec.underCi();
  }
}
