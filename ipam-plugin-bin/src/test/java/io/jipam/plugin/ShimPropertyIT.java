package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.IpamException;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.testkit.JipamdProcess;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded random calls through the native shim, checked two ways.
 *
 * <ul>
 *   <li>Property: random environments (valid and invalid CNI variables, bytes that are not UTF-8)
 *       and configs (valid, invalid, daemon sections of every shape), through the shim and through
 *       the JVM plugin's daemon client against the same jipamd: stdout and exit code byte for
 *       byte the same.
 *   <li>Fuzz of the shim's config reading: mutated configs through a copy of the shim whose
 *       {@code jipam-jvm} is a sentinel that records its stdin. The shim never panics (exit 101),
 *       hands the JVM exactly the bytes it read when it execs it, and forwards a call only when
 *       the JVM plugin's own reading ({@code JsonReader}, {@code DaemonClient.target}) would
 *       forward it to the same socket; then it prints what the (fake) jipamd answered.
 * </ul>
 *
 * The seed is in every failure message; {@code -Djipam.shim.seed=N} replays one.
 */
@Timeout(600)
class ShimPropertyIT {
  private static final long SEED = Long.getLong("jipam.shim.seed", System.nanoTime());

  @TempDir Path dir;

  // ------------------------------------------------------------------ generators

  static String pick(Random r, String... options) {
    return options[r.nextInt(options.length)];
  }

  /** A daemon section naming {@code socket} in one of its valid or invalid shapes. */
  static String daemonSection(Random r, Path socket) {
    String s = "\"" + socket + "\"";
    return switch (r.nextInt(14)) {
      case 0 -> null;
      case 1 -> "null";
      case 2 -> "\"auto\"";
      case 3 -> "\"AUTO\"";
      case 4 -> "42";
      case 5 -> "[" + s + "]";
      case 6 -> "{\"socket\":" + s + ",\"timeoutSeconds\":" + pick(r, "0", "301", "-1", "1.0", "1e1", "\"5\"",
          "true", "9223372036854775808", "null", "300", "1") + "}";
      case 7 -> "{\"socket\":" + pick(r, "5", "null", "\"\"", "{}", s.replace("/", "//"), s.replace("\"", "/\""),
          "\"/tmp/\\u0000x\"", "\"/tmp/" + "x".repeat(120) + "\"", "\"relative.sock\"",
          // 106 bytes (the JDK's bound) and 107 (the kernel's, over the JDK's)
          "\"/tmp/" + "x".repeat(101) + "\"", "\"/tmp/" + "x".repeat(102) + "\"") + "}";
      case 8 -> "{\"socket\":" + s + ",\"socket\":" + s + "}";
      case 9 -> "{\"s\\u006fcket\":" + s + "}";
      default -> "{\"socket\":" + s + (r.nextBoolean() ? ",\"timeoutSeconds\":30" : "") + "}";
    };
  }

  /** A config; in direct mode (no or an unusable daemon section) its data dir is {@code dataDir}. */
  static String config(Random r, Path socket, String network, Path dataDir) {
    String version = pick(r, "\"1.0.0\"", "\"0.3.1\"", "\"0.4.0\"", "\"1.1.0\"", "\"9.9.9\"", "1", "null");
    String ranges = pick(r, "\"ranges\":[[{\"subnet\":\"198.18.80.0/24\"}]]", "\"subnet\":\"198.18.80.0/24\"",
        "\"ranges\":[[{\"subnet\":\"198.18.80.0/33\"}]]", "\"ranges\":\"x\"", "");
    String daemon = daemonSection(r, socket);
    String extra = pick(r, "", ",\"args\":{\"cni\":{\"ips\":[\"198.18.80.9\"]}}", ",\"x\":\"\\u00e9\\ud800\"",
        ",\"cniVersion\":\"1.0.0\"", ",\"ipam\":{\"type\":\"jipam\"}", ",\"prevResult\":{\"ips\":[]}");
    String ipam = "{\"type\":\"jipam\",\"dataDir\":\"" + dataDir + "\"" + (daemon == null ? "" : ",\"daemon\":" + daemon)
        + (ranges.isEmpty() ? "" : "," + ranges) + "}";
    return "{\"cniVersion\":" + version + ",\"name\":\"" + network + "\",\"type\":\"bridge\",\"ipam\":" + ipam + extra + "}";
  }

  /** One random change to a document's bytes (or none). */
  static byte[] mutate(Random r, byte[] doc) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int at = doc.length == 0 ? 0 : r.nextInt(doc.length);
    switch (r.nextInt(9)) {
      case 0 -> {
        out.write(doc, 0, at); // truncated
      }
      case 1 -> {
        out.write(doc, 0, at);
        out.write(doc, Math.min(doc.length, at + 1), doc.length - Math.min(doc.length, at + 1)); // one byte less
      }
      case 2 -> {
        out.write(doc, 0, at);
        out.writeBytes(pick(r, "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "\n", "\u00ff", "0", "-", "e", "\\u",
            "\\ud800", "null", "\t").getBytes(StandardCharsets.UTF_8));
        out.write(doc, at, doc.length - at);
      }
      case 3 -> {
        out.write(doc, 0, at);
        out.write(0x80 + r.nextInt(128)); // not UTF-8
        out.write(doc, at, doc.length - at);
      }
      case 4 -> {
        out.writeBytes("\ufeff".getBytes(StandardCharsets.UTF_8)); // a byte order mark
        out.writeBytes(doc);
      }
      case 5 -> {
        int depth = 60 + r.nextInt(10);
        out.writeBytes(("[".repeat(depth)).getBytes(StandardCharsets.UTF_8));
        out.writeBytes(doc);
        out.writeBytes(("]".repeat(depth)).getBytes(StandardCharsets.UTF_8));
      }
      case 6 -> {
        out.writeBytes(doc);
        out.writeBytes(pick(r, " ", "\r\n", "x", "{}", "\u0000").getBytes(StandardCharsets.UTF_8));
      }
      default -> out.writeBytes(doc);
    }
    return out.toByteArray();
  }

  static Map<String, byte[]> environment(Random r) {
    String command = pick(r, "ADD", "ADD", "ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", "add", "");
    Map<String, byte[]> v = HostileInputIT.vars(command, pick(r, "c1", "c2", "p-1.x_y", "-bad", "a/b", ""),
        pick(r, "eth0", "net1", "*", "a:b", "..", "sixteen-bytes-xx", "\u00e9th0", ""));
    if (r.nextInt(4) == 0) {
      v.remove(pick(r, "CNI_NETNS", "CNI_PATH", "CNI_CONTAINERID", "CNI_IFNAME"));
    }
    switch (r.nextInt(6)) {
      case 0 -> v.put("CNI_ARGS", HostileInputIT.b("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p\\q"));
      case 1 -> v.put("CNI_ARGS", HostileInputIT.b(pick(r, "FOO=1", "IP=198.18.80.7", "IP=", "=x", "IgnoreUnknown=TRUE;X=1")));
      case 2 -> v.put("CNI_X", HostileInputIT.b("a\\b\nc", 0xff));
      case 3 -> v.put("CNI_IFNAME", HostileInputIT.b("a", 0xff));
      default -> { }
    }
    return v;
  }

  // ------------------------------------------------------------------ property

  @Test
  void randomCalls_shimAndJvmDaemonClient_sameBytesAndExit() throws Exception {
    Path data = dir.resolve("data");
    try (JipamdProcess jipamd = CniExec.fileJipamd(dir.resolve("jipam.sock"), data)) {
      Random r = new Random(SEED);
      for (int i = 0; i < 40; i++) {
        Map<String, byte[]> env = environment(r);
        byte[] stdin = config(r, dir.resolve("jipam.sock"), "prop", dir.resolve("direct")).getBytes(StandardCharsets.UTF_8);
        stdin = r.nextInt(3) == 0 ? mutate(r, stdin) : stdin;
        if (!staysInTempDir(stdin)) {
          continue; // a mutation took the data dir away: direct mode would write to the machine's default
        }
        HostileInputIT.Out shim = HostileInputIT.call(env, stdin, "", CniExec.JIPAM.toString());
        HostileInputIT.Out jvm = HostileInputIT.call(env, stdin, "", CniExec.JIPAM_JVM.toString());
        String context = "seed " + SEED + " call " + i + "\nenv " + describe(env) + "\nstdin "
            + new String(stdin, StandardCharsets.UTF_8) + "\nshim: " + shim + "\nJVM plugin: " + jvm;
        assertEquals(jvm.exit(), shim.exit(), context);
        assertEquals(jvm.stdout(), shim.stdout(), context);
        assertFalse(shim.stderr().contains("panicked"), context);
      }
    }
  }

  /** Whether a call with this config touches no data dir but the test's (or none at all). */
  boolean staysInTempDir(byte[] stdin) {
    try {
      Object parsed = JsonReader.parse(stdin);
      if (jvmTarget(stdin) != null || !(parsed instanceof Map<?, ?> top) || !(top.get("ipam") instanceof Map<?, ?> ipam)) {
        return true;
      }
      return ipam.get("dataDir") instanceof String d && d.startsWith(dir.toString());
    } catch (IpamException e) {
      return true;
    }
  }

  static String describe(Map<String, byte[]> env) {
    StringBuilder s = new StringBuilder();
    env.forEach((k, v) -> s.append(k).append('=').append(HostileInputIT.octal(v)).append(' '));
    return s.toString();
  }

  // ------------------------------------------------------------------ fuzz

  /** What the JVM plugin makes of a config: the socket it would forward to, or null (direct or an error). */
  static String jvmTarget(byte[] stdin) {
    try {
      Object parsed = JsonReader.parse(stdin);
      NetworkConfig.versionText(parsed);
      DaemonClient.Target t = DaemonClient.target(parsed);
      return t == null ? null : t.socket();
    } catch (IpamException e) {
      return null;
    }
  }

  @Test
  void mutatedConfigs_shimWithSentinelJvm_neverPanics_forwardsOnlyWhatTheJvmWould() throws Exception {
    Path sentinelStdin = dir.resolve("jvm-stdin");
    Path shim = CniExec.shimWithSentinelJvm(dir, sentinelStdin);
    byte[] answer = FakeJipamd.bytes("HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nContent-Length: 3\r\n\r\nok\n");
    Random r = new Random(SEED);
    int forwarded = 0;
    int execd = 0;
    try (FakeJipamd fake = new FakeJipamd(dir.resolve("fake.sock"), answer)) {
      for (int i = 0; i < 600; i++) {
        byte[] stdin = config(r, fake.socket, "fuzz", dir.resolve("direct")).getBytes(StandardCharsets.UTF_8);
        for (int m = r.nextInt(3); m > 0; m--) {
          stdin = mutate(r, stdin);
        }
        Files.deleteIfExists(sentinelStdin);
        HostileInputIT.Out out = HostileInputIT.call(HostileInputIT.vars("ADD", "c1", "eth0"), stdin, "", shim.toString());
        String context = "seed " + SEED + " input " + i + ": " + new String(stdin, StandardCharsets.UTF_8) + "\n" + out;
        assertNotEquals(101, out.exit(), context);
        assertFalse(out.stderr().contains("panicked"), context);
        String want = jvmTarget(stdin);
        if (out.exit() == 42) {
          execd++;
          assertEquals("JVM", out.stdout(), context);
          assertArrayEquals(stdin, Files.readAllBytes(sentinelStdin), "the JVM got other bytes: " + context);
        } else {
          forwarded++;
          assertTrue(want != null, "the shim answered a call the JVM plugin would not forward: " + context);
          if (want.equals(fake.socket.toString())) {
            assertEquals(0, out.exit(), context);
            assertEquals("ok\n", out.stdout(), context);
          } else {
            assertEquals(1, out.exit(), context);
            // the message names the socket as the config has it, JSON-escaped in stdout (a newline as \n)
            Object msg = ((java.util.Map<?, ?>) JsonReader.parse(out.stdout().getBytes(StandardCharsets.UTF_8))).get("msg");
            assertTrue(out.stdout().contains("\"code\": 11") && String.valueOf(msg).contains(want), context);
          }
        }
      }
      System.out.println("shim fuzz, seed " + SEED + ": 600 configs, forwarded " + forwarded + ", exec'd the JVM " + execd);
      assertTrue(forwarded > 50 && execd > 50, "the generator reaches both paths: forwarded " + forwarded
          + ", exec'd " + execd);
    }
  }

  /** Requests the fake jipamd received carry stdin exactly. */
  @Test
  void forwardedCall_requestCarriesEnvironmentLinesAndStdinExactly() throws Exception {
    byte[] answer = FakeJipamd.bytes("HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nContent-Length: 0\r\n\r\n");
    try (FakeJipamd fake = new FakeJipamd(dir.resolve("fake.sock"), answer)) {
      Map<String, byte[]> env = new LinkedHashMap<>(HostileInputIT.vars("ADD", "c1", "eth0"));
      env.put("CNI_ARGS", HostileInputIT.b("IgnoreUnknown=1;K8S_POD_NAME=web-0;X=a\\b"));
      env.put("CNI_EXTRA", HostileInputIT.b("line1\nline2"));
      String conf = " {\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"daemon\":{\"socket\":\"" + fake.socket
          + "\"},\"x\":\"\u00e9\"}}\n";
      byte[] stdin = conf.getBytes(StandardCharsets.UTF_8);
      HostileInputIT.Out out = HostileInputIT.call(env, stdin, "", CniExec.JIPAM.toString());
      assertEquals(0, out.exit(), out::toString);
      assertEquals(1, fake.requests.size());
      byte[] body = fake.requests.get(0);
      String text = new String(body, StandardCharsets.UTF_8);
      int split = text.indexOf("\n\n");
      List<String> lines = List.of(text.substring(0, split).split("\n"));
      assertEquals(java.util.Set.of("CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_IFNAME=eth0",
          "CNI_NETNS=/var/run/netns/x", "CNI_PATH=/opt/cni/bin", "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=web-0;X=a\\\\b",
          "CNI_EXTRA=line1\\nline2"), java.util.Set.copyOf(lines));
      assertArrayEquals(stdin, java.util.Arrays.copyOfRange(body, text.substring(0, split + 2)
          .getBytes(StandardCharsets.UTF_8).length, body.length));
    }
  }
}
