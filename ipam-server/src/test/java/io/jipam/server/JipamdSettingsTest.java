package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * jipamd's settings as {@code --check-config} reads them, in this JVM: flags set by the config file
 * or the environment and given again on the command line stay set (picocli inverted them: a flag
 * with a default of true means false when given); YAML anchors and aliases, a huge file, a FIFO,
 * a socket path no client could reach, a socket path naming no file and an empty data dir are
 * refused, exit 2, in one line.
 */
class JipamdSettingsTest {
  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  Run check(Map<String, String> env, String yaml, String... flags) throws Exception {
    Path f = dir.resolve("jipamd-" + System.nanoTime() + ".yaml");
    Files.writeString(f, yaml);
    return run(env, f, flags);
  }

  static Run run(Map<String, String> env, Path file, String... flags) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> args = new java.util.ArrayList<>(List.of("--check-config", file.toString()));
    args.addAll(List.of(flags));
    int exit = Jipamd.run(args.toArray(String[]::new), env, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void checkConfig_flagSetByFileOrEnvironmentAndGivenAgain_staysSet() throws Exception {
    String tcp = "store: memory\nlisten: 127.0.0.1:0\n";
    record Case(Map<String, String> env, String yaml, String flag, String says) {}
    for (Case c : List.of(
        new Case(Map.of(), tcp + "no-socket: true\ninsecure: true\n", "--no-socket", "TCP 127.0.0.1:0"),
        new Case(Map.of(), tcp + "no-socket: true\ninsecure: true\n", "--insecure", "TCP 127.0.0.1:0"),
        new Case(Map.of("JIPAMD_NO_SOCKET", "true", "JIPAMD_INSECURE", "true"), tcp, "--no-socket", "TCP"),
        new Case(Map.of("JIPAMD_NO_SOCKET", "TRUE", "JIPAMD_INSECURE", "true"), tcp, "--insecure", "TCP"))) {
      Run r = check(c.env(), c.yaml(), c.flag());
      assertEquals(0, r.exit(), c + ": " + r);
      assertTrue(r.out().contains(c.says()) && !r.out().contains("socket"), c + " gave a socket: " + r);
    }
    Run off = check(Map.of("JIPAMD_INSECURE", "false"), tcp);
    assertEquals(2, off.exit(), off.toString());
    assertTrue(off.err().contains("--insecure"), off.toString());
    Run bad = check(Map.of("JIPAMD_INSECURE", "yes"), tcp);
    assertEquals(2, bad.exit(), bad.toString());
    assertTrue(bad.err().contains("environment JIPAMD_INSECURE: \"yes\" is not true or false"), bad.toString());
  }

  @Test
  void checkConfig_optionWhereItDoesNothing_refusedNamingItAndWhereItWasGiven() throws Exception {
    Path file = Files.writeString(dir.resolve("some.pem"), "");
    Path etcd = Files.writeString(dir.resolve("etcd.json"), "{}");
    String f = file.toString();
    String tcp = "listen: 127.0.0.1:0\ninsecure: true\n";
    record Case(Map<String, String> env, String yaml, List<String> flags, String says) {}
    for (Case c : List.of(
        new Case(Map.of(), "store: etcd\netcd-config: " + etcd + "\n", List.of("--fsync"),
            "--fsync applies only with --store file; this jipamd's store is etcd"),
        new Case(Map.of(), "store: memory\nfsync: true\n", List.of(),
            "--fsync (from config CONFIG key fsync) applies only with --store file; this jipamd's store is memory"),
        new Case(Map.of("JIPAMD_DATA_DIR", "/var/lib/x"), "store: remote\nremote: unix:/run/j.sock\n", List.of(),
            "--data-dir (from environment JIPAMD_DATA_DIR) applies only with --store file"),
        new Case(Map.of(), "store: file\n", List.of("--etcd-config", etcd.toString()),
            "--etcd-config applies only with --store etcd; this jipamd's store is file"),
        new Case(Map.of(), "store: etcd\netcd-config: " + etcd + "\n", List.of("--remote-ca", f),
            "--remote-ca applies only with --store remote; this jipamd's store is etcd"),
        new Case(Map.of(), "store: memory\n", List.of("--remote-insecure"), "--remote-insecure applies only with --store remote"),
        new Case(Map.of(), "store: memory\n", List.of("--tls-cert", f, "--tls-key", f),
            "--tls-cert applies only with --listen"),
        new Case(Map.of(), "store: memory\ninsecure: true\n", List.of(),
            "--insecure (from config CONFIG key insecure) applies only with --listen"),
        new Case(Map.of(), "store: memory\n" + tcp + "no-socket: true\n", List.of("--socket", "/run/j.sock"),
            "--socket applies only with a unix socket (it is off: --no-socket)"))) {
      Path yaml = Files.writeString(dir.resolve("jipamd-" + System.nanoTime() + ".yaml"), c.yaml());
      Run r = run(c.env(), yaml, c.flags().toArray(String[]::new));
      String says = c.says().replace("CONFIG", yaml.toString());
      assertEquals(2, r.exit(), c + ": " + r);
      assertTrue(r.err().startsWith("jipamd: " + says) && r.err().strip().lines().count() == 1, c + ": " + r);
    }
    record Applies(String yaml, List<String> flags) {}
    for (Applies c : List.of(
        new Applies("store: etcd\netcd-config: " + etcd + "\nfsync: false\n", List.of()),
        new Applies("store: memory\netcd-config:\nremote: ''\n", List.of()),
        new Applies("store: file\n", List.of("--fsync", "--data-dir", dir.resolve("d").toString())),
        new Applies("store: memory\nlisten: 127.0.0.1:0\n", List.of("--tls-cert", f, "--tls-key", f)),
        new Applies("store: remote\nremote: 127.0.0.1:1\n", List.of("--remote-insecure")))) {
      Run r = check(Map.of(), c.yaml(), c.flags().toArray(String[]::new));
      assertEquals(0, r.exit(), c + ": " + r);
    }
  }

  @Test
  void checkConfig_unsafeOrUnreachableValues_refusedExitTwoInOneLine() throws Exception {
    String longSocket = dir.resolve("s".repeat(120) + ".sock").toString();
    record Case(String yaml, String says) {}
    for (Case c : List.of(
        new Case("store: &st memory\nsocket: *st\n", "YAML anchors and aliases are not taken"),
        new Case("workers: &n 16\nqueue: *n\n", "YAML anchors and aliases are not taken"),
        new Case("store: memory\nsocket: " + longSocket + "\n", "a unix socket's path takes at most 106"),
        new Case("store: memory\nsocket: /\n", "--socket \"/\" names no file"),
        new Case("store: file\ndata-dir: ''\n", "--data-dir is empty"))) {
      Run r = check(Map.of(), c.yaml());
      assertEquals(2, r.exit(), c + ": " + r);
      assertTrue(r.err().contains(c.says()) && r.err().strip().lines().count() == 1, c + ": " + r);
    }
    Run raw = run(Map.of(), java.nio.file.Files.writeString(dir.resolve("raw.yaml"), ""), "--store",
        "red\u001b[31m\nforged line " + "x".repeat(100_000));
    assertEquals(2, raw.exit(), raw.toString().substring(0, 200));
    String first = raw.err().lines().findFirst().orElse("");
    assertTrue(first.contains("\\x1b[31m\\x0aforged line") && first.length() < 600
        && !raw.err().contains("\u001b"), "escaped and cut: " + first.substring(0, Math.min(200, first.length())));
    Path huge = dir.resolve("huge.yaml");
    Files.writeString(huge, "# " + "x".repeat(2 << 20) + "\n");
    Run big = run(Map.of(), huge);
    assertEquals(2, big.exit(), big.toString());
    assertTrue(big.err().contains("is larger than 1048576 bytes"), big.err());
    Path fifo = dir.resolve("fifo.yaml");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
    Run pipe = run(Map.of(), fifo);
    assertEquals(2, pipe.exit(), pipe.toString());
    assertTrue(pipe.err().contains("is not a regular file"), pipe.err());
  }
}
