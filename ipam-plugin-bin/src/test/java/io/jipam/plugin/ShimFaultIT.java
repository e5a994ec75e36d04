package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.cni.JsonFields;
import io.jipam.core.cni.JsonReader;
import io.jipam.testkit.JipamdProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Daemon mode when jipamd fails: absent, refusing, hung, killed in the middle of a call, or
 * answering garbage or more than the client takes. Every case runs through the native shim
 * ({@code dist/bin/jipam}) and through the JVM plugin's daemon client ({@code dist/bin/jipam-jvm});
 * both must print the same bytes (CNI error 11 naming the socket, unless the answer is one) and
 * exit the same, within the bound, and leave nothing behind.
 */
@Timeout(300)
class ShimFaultIT {
  @TempDir Path dir;

  String config(Path socket, int timeoutSeconds) {
    return "{\"cniVersion\":\"1.0.0\",\"name\":\"faults\",\"ipam\":{\"type\":\"jipam\",\"daemon\":{\"socket\":\""
        + socket + "\",\"timeoutSeconds\":" + timeoutSeconds + "},\"ranges\":[[{\"subnet\":\"198.18.70.0/24\"}]]}}";
  }

  /** Runs ADD through both clients; asserts they agree and returns the shim's answer and its time. */
  static Timed both(String config) {
    return both(config, CniExec.env("ADD", "c1", "eth0", "/run/netns/c1"));
  }

  /** {@link #both(String)} with {@code env}. */
  static Timed both(String config, Map<String, String> env) {
    long start = System.nanoTime();
    CniExec.Result shim = CniExec.run(CniExec.JIPAM, env, config);
    long shimNanos = System.nanoTime() - start;
    CniExec.Result jvm = CniExec.run(CniExec.JIPAM_JVM, env, config);
    String context = "shim: " + shim + "\nJVM plugin: " + jvm;
    assertEquals(jvm.exit(), shim.exit(), context);
    assertEquals(jvm.stdout(), shim.stdout(), context);
    return new Timed(shim, shimNanos);
  }

  record Timed(CniExec.Result result, long nanos) {}

  static void assertTryAgainNamingSocket(CniExec.Result r, Path socket, String fragment) {
    assertEquals(1, r.exit(), r::toString);
    Map<String, Object> error = JsonFields.asObject(JsonReader.parse(r.stdout().getBytes(StandardCharsets.UTF_8)), "stdout");
    assertEquals(11L, error.get("code"), r::toString);
    String msg = (String) error.get("msg");
    assertTrue(msg.contains(socket.toString()) && msg.contains(fragment), () -> "expected " + fragment + ": " + r);
  }

  static Stream<Arguments> garbage() {
    String ok = "HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\n";
    List<Arguments> rows = new ArrayList<>();
    rows.add(Arguments.of("closed without a byte", "", "incomplete answer (0 bytes)"));
    rows.add(Arguments.of("not HTTP", "hello\r\n\r\n", "answered \"hello\""));
    rows.add(Arguments.of("head never ends", ok + "Content-Length: 2\r\n", "incomplete answer"));
    rows.add(Arguments.of("status 500", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", "500"));
    rows.add(Arguments.of("Latin-1 status line", "HTTP/1.1 \u00e9t\u00e9\r\n\r\n", "\u00e9t\u00e9"));
    rows.add(Arguments.of("control bytes in status", "\u0001\u0002\u001f\u007f\r\n\r\n", "answered"));
    rows.add(Arguments.of("no Jipam-Exit", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "Jipam-Exit"));
    rows.add(Arguments.of("Jipam-Exit 7", "HTTP/1.1 200 OK\r\nJipam-Exit: 7\r\nContent-Length: 2\r\n\r\n{}", "Jipam-Exit"));
    rows.add(Arguments.of("body shorter than Content-Length", ok + "Content-Length: 50\r\n\r\n{}", "Content-Length 50"));
    rows.add(Arguments.of("negative Content-Length", ok + "Content-Length: -1\r\n\r\n{}", "Content-Length -1"));
    rows.add(Arguments.of("Content-Length over 32 bits", ok + "Content-Length: 99999999999\r\n\r\n{}", "99999999999"));
    rows.add(Arguments.of("Content-Length near 2^31", ok + "Content-Length: 2147483647\r\n\r\n{}", "2147483647"));
    rows.add(Arguments.of("bad chunk size", ok + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "bad chunk size"));
    rows.add(Arguments.of("negative chunk size", ok + "Transfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n", "bad chunk size"));
    rows.add(Arguments.of("huge chunk size", ok + "Transfer-Encoding: chunked\r\n\r\n7fffffff\r\n{}\r\n", "truncated chunk"));
    rows.add(Arguments.of("chunks never end", ok + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", "truncated chunked"));
    // a reason of 20,000 characters: both cut the message at 16,384 as CniJson.error does
    rows.add(Arguments.of("status line of 20,000 characters", "HTTP/1.1 500 " + "x".repeat(20_000) + "\r\n\r\n",
        "... (20"));
    return rows.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("garbage")
  void garbageAnswer_bothClients_sameTryAgainNamingSocket(String name, String answer, String fragment) throws Exception {
    Path socket = dir.resolve("fake.sock");
    try (FakeJipamd fake = new FakeJipamd(socket, FakeJipamd.bytes(answer))) {
      assertTryAgainNamingSocket(both(config(socket, 30)).result(), socket, fragment);
    }
  }

  /** Answers the clients take: printed as sent, with Jipam-Exit as the exit code. */
  @Test
  void unusualButValidAnswers_bothClients_printBodyAndExit() throws Exception {
    Path socket = dir.resolve("fake.sock");
    String[][] cases = {
        {"HTTP/1.1 200 OK\r\njipam-exit:  1 \r\ncontent-length: +3\r\n\r\nabcdef", "1", "abc"},
        {"HTTP/1.0 200 OK\r\nJipam-Exit: 0\r\nTransfer-Encoding: CHUNKED\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "0", "abcde"},
        {"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\n\r\nno length: to the end", "0", "no length: to the end"}};
    for (String[] c : cases) {
      try (FakeJipamd fake = new FakeJipamd(socket, FakeJipamd.bytes(c[0]))) {
        CniExec.Result r = both(config(socket, 30)).result();
        assertEquals(Integer.parseInt(c[1]), r.exit(), r::toString);
        assertTrue(r.stdout().startsWith(c[2]), r::toString);
        assertEquals(2, fake.requests.size(), "one request from each client");
      }
    }
  }

  /**
   * A daemon that closes without reading the request, with or without an answer: the client's read
   * fails with ECONNRESET. The shim printed the system's "Connection reset by peer" where the JVM's
   * SocketChannel says "Connection reset".
   */
  @Test
  void requestUnread_closedOrAnsweredThenClosed_bothClients_sameConnectionReset() throws Exception {
    Path socket = dir.resolve("fake.sock");
    for (String answer : new String[] {null, "HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nContent-Length: 2\r\n\r\n{}"}) {
      try (FakeJipamd fake = FakeJipamd.unread(socket, answer == null ? null : FakeJipamd.bytes(answer))) {
        assertTryAgainNamingSocket(both(config(socket, 30)).result(), socket, ": Connection reset; try again later");
      }
    }
  }

  @Test
  void oversizedAnswer_bothClients_tryAgainNamingTheLimit() throws Exception {
    Path socket = dir.resolve("fake.sock");
    byte[] head = FakeJipamd.bytes("HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nContent-Length: 2000000\r\n\r\n");
    byte[] answer = java.util.Arrays.copyOf(head, head.length + 2_000_000);
    try (FakeJipamd fake = new FakeJipamd(socket, answer)) {
      assertTryAgainNamingSocket(both(config(socket, 30)).result(), socket, "answer over 1048576 bytes");
    }
  }

  /**
   * With no jipamd, the error each client writes itself carries the config's cniVersion only when
   * jipam supports it, else the latest: the shim echoed any version ("banana", "").
   */
  @Test
  void noJipamd_unsupportedOrEmptyCniVersion_bothClients_sameErrorVersion() throws Exception {
    Path missing = dir.resolve("missing.sock");
    for (String version : List.of("banana", "", "9.9.9", "0.4.0")) {
      CniExec.Result r = both(config(missing, 30).replace("\"cniVersion\":\"1.0.0\"", "\"cniVersion\":\"" + version
          + "\"")).result();
      assertEquals(1, r.exit(), r::toString);
      assertTrue(r.stdout().contains("\"cniVersion\": \"" + (version.equals("0.4.0") ? "0.4.0" : "1.1.0") + "\""),
          version + ": " + r);
    }
  }

  @Test
  void noJipamd_socketMissingOrStale_bothClients_tryAgain() throws Exception {
    Path missing = dir.resolve("missing.sock");
    assertTryAgainNamingSocket(both(config(missing, 30)).result(), missing, "No such file or directory");
    Path stale = dir.resolve("stale.sock");
    new FakeJipamd(stale, new byte[0]).closeKeepingFile();
    assertTryAgainNamingSocket(both(config(stale, 30)).result(), stale, "Connection refused");
    Path notSocket = Files.writeString(dir.resolve("file.sock"), "x");
    assertTryAgainNamingSocket(both(config(notSocket, 30)).result(), notSocket, "Connection refused");
  }

  /**
   * A socket no client can ever reach is a config error (code 7 naming it), not "try again later"
   * forever: relative, holding a NUL, or over the JDK's 106 bytes. A path of exactly 106 bytes is
   * reached by both (here: nothing listens, so code 11). The shim used to forward 107 bytes, which
   * jipamd could bind but the JVM plugin could not reach (calls the shim hands over failed).
   */
  @Test
  void socketNoClientCanReach_bothClients_code7NamingIt() throws Exception {
    String prefix = dir.toString() + "/";
    String max = prefix + "s".repeat(106 - prefix.length());
    record Row(String socketJson, String says) {}
    for (Row row : List.of(
        new Row("relative.sock", "\\\"relative.sock\\\" is not an absolute path"),
        new Row(prefix + "nul\\u0000.sock", "holds a NUL character"),
        new Row(max + "s", "is 107 bytes long: a unix socket's path takes at most 106"))) {
      String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"faults\",\"ipam\":{\"type\":\"jipam\",\"daemon\":{\"socket\":\""
          + row.socketJson() + "\"},\"ranges\":[[{\"subnet\":\"198.18.70.0/24\"}]]}}";
      CniExec.Result r = both(conf).result();
      assertEquals(1, r.exit(), r::toString);
      assertTrue(r.stdout().contains("\"code\": 7") && r.stdout().contains(row.says()), () -> row + ": " + r);
    }
    assertTryAgainNamingSocket(both(config(Path.of(max), 30)).result(), Path.of(max), "No such file or directory");
  }

  /** A line break in the socket's path (a path may hold one) does not start a line of the call log of either client. */
  @Test
  void socketPathWithLineBreak_bothClients_logLinesStayWhole() throws Exception {
    Path log = dir.resolve("calls.log");
    Map<String, String> env = new HashMap<>(CniExec.env("ADD", "c1", "eth0", "/run/netns/c1"));
    env.put("JIPAM_LOG_FILE", log.toString());
    String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"faults\",\"ipam\":{\"type\":\"jipam\",\"daemon\":{\"socket\":\""
        + dir + "/a\\nFORGED LINE\\r.sock\"},\"ranges\":[[{\"subnet\":\"198.18.70.0/24\"}]]}}";
    assertEquals(1, both(conf, env).result().exit());
    List<String> lines = Files.readAllLines(log);
    assertEquals(2, lines.size(), () -> "one line per call: " + lines);
    for (String line : lines) {
      assertTrue(line.matches("^\\d{4}-\\d\\d-\\d\\dT\\S+ pid=\\d+ ERROR ADD failed: code 11: .*a\\\\nFORGED LINE\\\\r\\.sock.*"),
          line);
    }
  }

  /**
   * An environment the JVM plugin refuses before it sends anything (code 4) is refused the same
   * with no jipamd to ask: the shim hands it to the JVM plugin instead of forwarding it.
   */
  @Test
  void noJipamd_podNamesTheJvmPluginRefuses_bothClients_sameRefusal() throws Exception {
    Path missing = dir.resolve("missing.sock");
    for (String args : List.of("K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p\\q", "K8S_POD_NAME=Web-0",
        "K8S_POD_NAMESPACE=a.b;K8S_POD_NAME=web-0", "K8S_POD_NAME=" + "a".repeat(254))) {
      Map<String, String> env = new HashMap<>(CniExec.env("ADD", "c1", "eth0", "/run/netns/c1"));
      env.put("CNI_ARGS", "IgnoreUnknown=1;" + args);
      CniExec.Result r = both(config(missing, 30), env).result();
      assertEquals(1, r.exit(), r::toString);
      Map<String, Object> error = JsonFields.asObject(JsonReader.parse(r.stdout().getBytes(StandardCharsets.UTF_8)),
          "stdout");
      assertEquals(4L, error.get("code"), r::toString);
    }
  }

  @Test
  void hungJipamd_bothClients_tryAgainWithinTheBound() throws Exception {
    Path socket = dir.resolve("hung.sock");
    try (FakeJipamd fake = new FakeJipamd(socket, null)) {
      Timed t = both(config(socket, 2));
      assertTryAgainNamingSocket(t.result(), socket, "did not answer within 2 s");
      long millis = TimeUnit.NANOSECONDS.toMillis(t.nanos());
      assertTrue(millis >= 2000 && millis < 6000, "the shim answered after " + millis + " ms; the bound is 2 s");
    }
  }

  /**
   * A real jipamd, stopped, with the shim's call waiting in its listen queue, then SIGKILLed: error
   * 11, and the restarted jipamd finds no allocation (the call never ran).
   */
  @Test
  void jipamdKilledMidCall_tryAgain_callLeavesNothing() throws Exception {
    Path socket = dir.resolve("jipam.sock");
    Path data = dir.resolve("data");
    JipamdProcess jipamd = CniExec.fileJipamd(socket, data);
    try {
      CniExec.sh("kill", "-STOP", Long.toString(jipamd.pid()));
      ProcessBuilder pb = new ProcessBuilder(CniExec.JIPAM.toString());
      pb.environment().clear();
      pb.environment().putAll(CniExec.env("ADD", "c1", "eth0", "/run/netns/c1"));
      Path out = dir.resolve("out.json");
      Process shim = pb.redirectOutput(out.toFile()).start();
      shim.getOutputStream().write(config(socket, 60).getBytes(StandardCharsets.UTF_8));
      shim.getOutputStream().close();
      // the call is in jipamd's listen queue (ss: the listener's Recv-Q counts waiting connections)
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!queued(socket)) {
        assertTrue(System.nanoTime() < deadline, "the shim's connection never reached jipamd's queue");
        Thread.sleep(10);
      }
      jipamd.kill();
      assertTrue(shim.waitFor(30, TimeUnit.SECONDS), "the shim did not answer after jipamd died");
      CniExec.Result r = new CniExec.Result(shim.exitValue(), Files.readString(out), "");
      assertTryAgainNamingSocket(r, socket, "cannot reach jipamd");
    } finally {
      jipamd.kill();
    }
    Files.deleteIfExists(socket);
    try (JipamdProcess again = CniExec.fileJipamd(socket, data)) {
      assertEquals(List.of(), addressFiles(data.resolve("faults")), "the killed call left an allocation");
      CniExec.Result del = CniExec.run(CniExec.JIPAM, CniExec.env("DEL", "c1", "eth0", null), config(socket, 60));
      assertEquals(0, del.exit(), del::toString);
    }
  }

  /**
   * jipamd paused with an ADD in its queue past the shim's bound (the shim answered code 11, so the
   * runtime goes on: a DEL, or nothing): when jipamd resumes, it refuses the ADD, past its client's
   * deadline, and allocates nothing. It ran the ADD then, after its client had failed it: an
   * address held for a container the runtime had given up on, leaked (a late ADD after the DEL
   * through a node jipamd's workers; helper reviews).
   */
  @Test
  void jipamdPausedPastTheShimsBound_lateAddRefusedNothingAllocated() throws Exception {
    Path socket = dir.resolve("jipam.sock");
    Path data = dir.resolve("data");
    try (JipamdProcess jipamd = CniExec.fileJipamd(socket, data, "--log-calls")) {
      CniExec.sh("kill", "-STOP", Long.toString(jipamd.pid()));
      CniExec.Result add;
      try {
        add = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "late", "eth0", "/run/netns/late"), config(socket, 1));
      } finally {
        CniExec.sh("kill", "-CONT", Long.toString(jipamd.pid()));
      }
      assertTryAgainNamingSocket(add, socket, "did not answer within 1 s");
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!jipamd.output().contains("attachment=late/eth0")) {
        assertTrue(System.nanoTime() < until, "jipamd never logged the queued ADD:\n" + jipamd.output());
        Thread.sleep(20);
      }
      String line = jipamd.output().lines().filter(l -> l.contains("attachment=late/eth0")).findFirst().orElseThrow();
      assertTrue(line.contains("not applied: the call reached jipamd's store "), line);
      assertEquals(List.of(), addressFiles(data.resolve("faults")), "the late ADD allocated");
      CniExec.Result next = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "next", "eth0", "/run/netns/next"),
          config(socket, 60));
      assertEquals(0, next.exit(), next::toString);
      assertTrue(next.stdout().contains("198.18.70.2/24"), "the first address is free: " + next.stdout());
    }
  }

  /** The address files of a network directory (host-local's layout). */
  static List<String> addressFiles(Path network) throws java.io.IOException {
    if (!Files.isDirectory(network)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(network)) {
      return files.map(p -> p.getFileName().toString())
          .filter(n -> Character.isDigit(n.charAt(0)) || n.contains(":")).sorted().toList();
    }
  }

  /**
   * Whether a listener in the socket's directory has a connection waiting. ss names a listener by
   * the path it was bound at: jipamd binds in a private directory beside the socket's path and
   * renames the socket into place (docs/service.md), so the listener is matched by the directory.
   */
  private static boolean queued(Path socket) {
    String ss = CniExec.sh("ss", "-xlnH");
    String dir = socket.getParent().toString() + "/";
    for (String line : ss.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (line.contains(dir) && f.length > 2 && !f[2].equals("0")) {
        return true;
      }
    }
    return false;
  }
}
