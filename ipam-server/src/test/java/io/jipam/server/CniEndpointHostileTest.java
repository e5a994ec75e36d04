package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * jipamd's CNI endpoint under the exact requests of issue 17's hostile cases, sent as raw bytes
 * on its unix socket: interface names that are not UTF-8, a client that half-closes after its
 * request, and a GC as large as the plugin takes in direct mode.
 */
@Timeout(120)
@Isolated // sums the CPU of every Vert.x event loop in the JVM
class CniEndpointHostileTest {
  @TempDir Path dir;
  Path socket;
  IpamStore store;
  IpamServer server;

  @BeforeEach
  void start() {
    socket = dir.resolve("jipam.sock");
    store = MemoryStores.open();
    server = IpamServer.start(store, IpamServer.Settings.unix(socket), CallLog.quiet());
  }

  @AfterEach
  void stop() {
    server.close();
  }

  static byte[] request(String command, byte[] ifname, String config) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(("CNI_COMMAND=" + command + "\nCNI_CONTAINERID=c1\nCNI_NETNS=/run/netns/x\nCNI_IFNAME=")
        .getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(ifname);
    out.writeBytes(("\nCNI_PATH=/opt/cni/bin\n\n" + config).getBytes(StandardCharsets.UTF_8));
    return out.toByteArray();
  }

  Pool pool() {
    return IpamServerTest.pool("pods", "198.18.4.0/24", "fd00:4::/64");
  }

  @Test
  void cni_ifnameNotUtf8_code4AndNeverMerged() throws Exception {
    for (byte last : new byte[] {(byte) 0xff, (byte) 0xfe}) {
      IpamServerTest.Reply add = IpamServerTest.cni(socket, request("ADD", new byte[] {'a', last},
          IpamServerTest.CONFIG), false);
      assertEquals(1, add.exit(), add.body());
      assertTrue(add.body().replace(" ", "").contains("\"code\":4"), add.body());
      assertTrue(add.body().contains("not valid UTF-8"), add.body());
    }
    Pool roundRobin = new Pool("pods", pool().rangeSets(), AllocationOrder.ROUND_ROBIN);
    assertEquals(0, store.list(roundRobin).size(), "nothing allocated");
  }

  @Test
  void cni_completeRequestThenShutdownWrite_answerWritten() throws Exception {
    IpamServerTest.Reply add = IpamServerTest.cni(socket, request("ADD", "eth0".getBytes(StandardCharsets.US_ASCII),
        IpamServerTest.CONFIG), true);
    assertEquals(0, add.exit(), add.body());
    assertTrue(add.body().contains("\"198.18.4.2/24\""), add.body());
    IpamServerTest.Reply check = IpamServerTest.cni(socket, request("DEL", "eth0".getBytes(StandardCharsets.US_ASCII),
        IpamServerTest.CONFIG), true);
    assertEquals(0, check.exit(), check.body());
  }

  /**
   * A keep-alive request, then the half-close: answered, and the connection is closed by the idle
   * timeout (1 s) without the event loops spinning on the ended input meanwhile.
   */
  @Test
  void cni_keepAliveRequestThenShutdownWrite_answeredThenClosedWithoutSpinning() throws Exception {
    Path idleSocket = dir.resolve("idle.sock");
    IpamServer idle = IpamServer.start(MemoryStores.open(), new IpamServer.Settings(idleSocket, null, 0, false, null,
        null, null, 2, 16, 4L << 20, java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(1)),
        CallLog.quiet());
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(
        java.net.UnixDomainSocketAddress.of(idleSocket))) {
      byte[] body = request("ADD", "eth0".getBytes(StandardCharsets.US_ASCII), IpamServerTest.CONFIG);
      BadClientTest.write(ch, "POST /cni/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length + "\r\n\r\n"
          + new String(body, StandardCharsets.ISO_8859_1));
      ch.shutdownOutput();
      long cpuBefore = eventLoopCpuNanos(threads);
      BadClientTest.Ending end = BadClientTest.readToClose(ch);
      long cpu = eventLoopCpuNanos(threads) - cpuBefore;
      assertTrue(end.received().toLowerCase(java.util.Locale.ROOT).contains("jipam-exit: 0"), end.received());
      assertTrue(end.received().contains("198.18.4.2/24"), end.received());
      assertTrue(cpu < end.millis() * 1_000_000L / 2, "event loops used " + cpu / 1_000_000 + " ms of CPU in the "
          + end.millis() + " ms the half-closed connection stayed open");
    } finally {
      idle.close();
    }
  }

  private static long eventLoopCpuNanos(java.lang.management.ThreadMXBean threads) {
    long sum = 0;
    for (java.lang.management.ThreadInfo t : threads.dumpAllThreads(false, false)) {
      if (t.getThreadName().startsWith("vert.x-eventloop")) {
        sum += Math.max(0, threads.getThreadCpuTime(t.getThreadId()));
      }
    }
    return sum;
  }

  /** The GC of issue 17: 14,000 valid attachments, 1.4 MiB, over the old 1 MiB limit. */
  @Test
  void cni_gcOf14000Attachments_servedAsInDirectMode() throws Exception {
    StringBuilder valid = new StringBuilder();
    for (int i = 0; i < 14_000; i++) {
      valid.append(i == 0 ? "" : ",").append("{\"containerID\":\"container-").append(String.format("%060d", i))
          .append("\",\"ifname\":\"eth0\"}");
    }
    String config = IpamServerTest.CONFIG.substring(0, IpamServerTest.CONFIG.length() - 1)
        .replace("\"1.0.0\"", "\"1.1.0\"") + ",\"cni.dev/valid-attachments\":[" + valid + "]}";
    assertTrue(config.length() > 1_400_000 && config.length() < NetworkConfig.MAX_BYTES, "size " + config.length());
    IpamServerTest.Reply add = IpamServerTest.cni(socket, request("ADD", "eth0".getBytes(StandardCharsets.US_ASCII),
        IpamServerTest.CONFIG), false);
    assertEquals(0, add.exit(), add.body());
    byte[] gc = ("CNI_COMMAND=GC\nCNI_PATH=/opt/cni/bin\n\n" + config).getBytes(StandardCharsets.UTF_8);
    IpamServerTest.Reply reply = IpamServerTest.cni(socket, gc, false);
    assertEquals(0, reply.exit(), reply.body());
    Pool roundRobin = new Pool("pods", pool().rangeSets(), AllocationOrder.ROUND_ROBIN);
    assertEquals(0, store.list(roundRobin).size(), "c1 was not in the valid list: released");
  }

  /** One byte over the plugin's config limit: code 7 naming it, as the plugin answers. */
  @Test
  void cni_configOverThePluginLimit_code7AsThePlugin() throws Exception {
    String padded = IpamServerTest.CONFIG.substring(0, IpamServerTest.CONFIG.length() - 1) + ",\"pad\":\"";
    String config = padded + "x".repeat(NetworkConfig.MAX_BYTES - padded.length() - 1) + "\"}";
    assertEquals(NetworkConfig.MAX_BYTES + 1, config.length());
    byte[] add = request("ADD", "eth0".getBytes(StandardCharsets.US_ASCII), config);
    IpamServerTest.Reply reply = IpamServerTest.cni(socket, add, false);
    assertEquals(1, reply.exit(), reply.body());
    assertTrue(reply.body().replace(" ", "").contains("\"code\":7"), reply.body());
    assertTrue(reply.body().contains("larger than " + NetworkConfig.MAX_BYTES + " bytes"), reply.body());
  }

  /**
   * Environments that could decode two ways, refused and nothing allocated: an escape other than
   * the clients' two ({@code \\\\}, {@code \\n}), a lone backslash at a line's end, a variable
   * given twice, and a NUL in an interface name (which the kernel would read as a shorter name).
   * Before, {@code \\eth0} allocated for {@code eth0}, the last of two CNI_IFNAME lines won, and
   * {@code eth0\\0a} and {@code eth0} were two attachments.
   */
  @Test
  void cni_environmentThatCouldDecodeTwoWays_refusedNothingAllocated() throws Exception {
    String config = IpamServerTest.CONFIG;
    String[][] table = {
        {"CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/n\nCNI_IFNAME=\\eth0\nCNI_PATH=/p", "6",
            "has an escape other than"},
        {"CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/n\nCNI_IFNAME=eth0\\\nCNI_PATH=/p", "6",
            "has an escape other than"},
        {"CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/n\nCNI_IFNAME=eth0\nCNI_IFNAME=eth1\nCNI_PATH=/p", "4",
            "sets \\\"CNI_IFNAME\\\" twice"},
        {"CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/n\nCNI_IFNAME=eth0\u0000a\nCNI_PATH=/p", "4",
            "byte 0x00"}};
    for (String[] row : table) {
      IpamServerTest.Reply add = IpamServerTest.cni(socket, row[0] + "\n\n" + config);
      assertEquals(1, add.exit(), row[0] + ": " + add.body());
      assertTrue(add.body().replace(" ", "").contains("\"code\":" + row[1]), row[0] + ": " + add.body());
      assertTrue(add.body().contains(row[2]), row[0] + ": " + add.body());
    }
    assertEquals(0, store.list(new Pool("pods", pool().rangeSets(), AllocationOrder.ROUND_ROBIN)).size(),
        "nothing allocated");
  }

  /**
   * Config errors quoting huge values stay those errors, within what the clients read (1 MiB): a
   * cniVersion of 600,000 characters (not echoed as the error's version), an ipam.gw of as many;
   * and an empty subPools list is a config error naming it, not an internal error (999).
   */
  @Test
  void cni_configErrorsQuotingHugeValuesOrEmptySubPools_theirCodeWithinTheAnswerBound() throws Exception {
    String huge = "x".repeat(600_000);
    String env = "CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_NETNS=/n\nCNI_IFNAME=eth0\nCNI_PATH=/p\n\n";
    String[][] table = {
        {"{\"cniVersion\":\"" + huge + "\",\"name\":\"pods\",\"ipam\":{\"type\":\"jipam\",\"subnet\":\"198.18.4.0/24\"}}",
            "1", "is not supported"},
        {"{\"cniVersion\":\"1.0.0\",\"name\":\"pods\",\"ipam\":{\"type\":\"jipam\",\"subnet\":\"198.18.4.0/24\","
            + "\"gateway\":\"" + huge + "\"}}", "7", "(600000 characters)"},
        {"{\"cniVersion\":\"1.0.0\",\"name\":\"pods\",\"ipam\":{\"type\":\"jipam\",\"subPools\":[]}}", "7",
            "ipam.subPools is empty"}};
    for (String[] row : table) {
      IpamServerTest.Reply add = IpamServerTest.cni(socket, env + row[0]);
      String shown = add.body().length() > 300 ? add.body().substring(0, 300) : add.body();
      assertEquals(1, add.exit(), shown);
      assertTrue(add.body().length() < 64 * 1024, add.body().length() + " bytes: " + shown);
      assertTrue(add.body().replace(" ", "").contains("\"code\":" + row[1]), shown);
      assertTrue(add.body().contains(row[2]), shown);
      assertTrue(!add.body().contains("\"cniVersion\": \"x"), "an unsupported version is not echoed: " + shown);
    }
  }
}
