package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.core.cni.JsonReader;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.Ports;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin on the etcd store, named from the conflist ({@code "store": {"type": "etcd", ...}}),
 * against a real etcd this test starts on loopback: two nodes get addresses from their own blocks,
 * a repeated ADD returns the same address, DEL frees it, and an unreachable etcd is error 11.
 */
class EtcdPluginIT {
  private static Etcd etcd;
  private static String endpoint;

  @TempDir Path tmp;

  @BeforeAll
  static void startEtcd() throws Exception {
    etcd = Etcd.single();
    endpoint = etcd.endpoint();
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) {
      etcd.close();
    }
  }

  /** The conflist on the live etcd: calls bounded at 20 s (a loaded machine has taken over 2 s). */
  private static String conf(String endpoints, String node) {
    return conf(endpoints, node, 20_000);
  }

  private static String conf(String endpoints, String node, int timeoutMillis) {
    return ("{'cniVersion':'1.0.0','name':'etcd-net','ipam':{'type':'jipam',"
        + "'ranges':[[{'subnet':'198.18.64.0/22'}]],'store':{'type':'etcd','endpoints':['" + endpoints
        + "'],'node':'" + node + "','timeoutMillis':" + timeoutMillis + ",'prefix':'/it'}}}").replace('\'', '"');
  }

  @SuppressWarnings("unchecked")
  /**
   * The address of a successful ADD, which printed nothing on stderr: no note of SLF4J's, no JVM
   * warning about {@code sun.misc.Unsafe} (the etcd store's libraries use it; Java 23 and later warn
   * unless the launcher allows it).
   */
  private static String address(CniExec.Result add) {
    assertEquals(0, add.exit(), add.toString());
    assertEquals("", add.stderr(), add.toString());
    Map<String, Object> result = (Map<String, Object>) JsonReader.parse(add.stdout().getBytes());
    return (String) ((List<Map<String, Object>>) result.get("ips")).get(0).get("address");
  }

  @Test
  void addDel_twoNodesThroughPlugin_ownBlocksIdempotentAddReleased() {
    String a1 = address(CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "pa1", "eth0", "/x"), conf(endpoint, "node-a")));
    String b1 = address(CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "pb1", "eth0", "/x"), conf(endpoint, "node-b")));
    String a2 = address(CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "pa2", "eth0", "/x"), conf(endpoint, "node-a")));
    assertNotEquals(a1, b1);
    // /26 blocks: both of node-a's addresses share a block, node-b's is in another
    assertEquals(block(a1), block(a2));
    assertNotEquals(block(a1), block(b1));
    assertEquals(a1, address(CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "pa1", "eth0", "/x"), conf(endpoint, "node-a"))));
    assertEquals(0, CniExec.run(CniExec.JIPAM, CniExec.env("DEL", "pa1", "eth0", null), conf(endpoint, "node-a")).exit());
    assertEquals(0, CniExec.run(CniExec.JIPAM, CniExec.env("DEL", "pa1", "eth0", null), conf(endpoint, "node-a")).exit());
    String prev = "\"prevResult\":{\"ips\":[{\"address\":\"" + b1 + "\"}]},";
    CniExec.Result check = CniExec.run(CniExec.JIPAM, CniExec.env("CHECK", "pb1", "eth0", "/x"),
        conf(endpoint, "node-b").replaceFirst("\"ipam\"", prev + "\"ipam\""));
    assertEquals(0, check.exit(), check.toString());
  }

  /**
   * Where a call's JVM loaded the etcd client from: the shim hints the launcher that the config
   * names the etcd store, which then starts the JVM from the etcd cache (the client's classes come
   * from the "shared objects file"); {@code jipam-jvm} run directly gets no hint and loads them
   * from the jars. Skipped where the build's JDK made no etcd cache (before JDK 25).
   */
  @Test
  void add_throughTheShim_etcdClientFromTheEtcdCacheNotWithoutTheHint() throws Exception {
    String env = Files.readString(CniExec.DIST.resolve("lib/jvm.env")).replace("'", ""); // values quoted
    assumeTrue(env.contains("JIPAM_ETCD_CACHE_FLAGS=-XX:AOTCache="),
        "no etcd cache in dist/lib/jvm.env (JDK before 25): " + env);
    for (Path launcher : List.of(CniExec.JIPAM, CniExec.JIPAM_JVM)) {
      Path classes = tmp.resolve(launcher.getFileName() + "-classes.log");
      Map<String, String> callEnv = new HashMap<>(CniExec.env("ADD", "cache-" + launcher.getFileName(),
          "eth0", "/x"));
      callEnv.put("JIPAM_JAVA_OPTS", "-Xlog:class+load=info:file=" + classes);
      String added = address(CniExec.run(launcher, callEnv, conf(endpoint, "node-c")));
      assertTrue(added.startsWith("198.18."), added);
      String client = Files.readAllLines(classes).stream()
          .filter(l -> l.contains(" io.etcd.jetcd.impl.ClientImpl ")).findFirst().orElse("(not loaded)");
      boolean cached = client.contains("source: shared objects file");
      assertEquals(launcher.equals(CniExec.JIPAM), cached, launcher + " loaded the etcd client: " + client);
      if (cached && (Files.isExecutable(Path.of("/usr/bin/etcd")) || Files.isExecutable(Path.of("/usr/local/bin/etcd")))) {
        // the build trained the cache on calls that succeeded on a real etcd (TrainingRun): their
        // ends (gRPC's streams, Netty's, Vert.x's) come from the cache too, where 530 classes came
        // from the jars when it was trained on failing calls only
        List<String> fromJars = Files.readAllLines(classes).stream().filter(l -> l.contains(" source: file:")).toList();
        assertTrue(fromJars.size() < 60, fromJars.size() + " classes from the jars: " + fromJars);
      }
      assertEquals(0, CniExec.run(CniExec.JIPAM, CniExec.env("DEL", "cache-" + launcher.getFileName(), "eth0", null),
          conf(endpoint, "node-c")).exit());
    }
  }

  /**
   * The store's close waits for the etcd client's event loops to end: a JVM that exits while
   * threads sit in native code ({@code epoll_wait}) first waits up to 300 ms for them, which every
   * call on etcd spent after printing its result. The JVM logs each thread that ends on its own
   * ({@code -Xlog:os+thread}); threads still running at the exit end without that line.
   */
  @Test
  void add_onEtcd_eventLoopsEndBeforeTheJvmExits() throws Exception {
    Path threads = tmp.resolve("threads.log");
    Map<String, String> callEnv = new HashMap<>(CniExec.env("ADD", "loops", "eth0", "/x"));
    callEnv.put("JIPAM_JAVA_OPTS", "-Xlog:os+thread=info:file=" + threads);
    address(CniExec.run(CniExec.JIPAM, callEnv, conf(endpoint, "node-d")));
    String log = Files.readString(threads);
    assertTrue(log.contains("JavaThread exiting (name: \"vert.x-eventloop-thread-0\""),
        "the client's first event loop did not end before the JVM exited:\n" + log);
    assertEquals(0, CniExec.run(CniExec.JIPAM, CniExec.env("DEL", "loops", "eth0", null), conf(endpoint, "node-d"))
        .exit());
  }

  @Test
  void add_etcdUnreachable_failsWithCode11InBoundedTime() throws Exception {
    int closed = Ports.free();
    long start = System.nanoTime();
    CniExec.Result add = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "px", "eth0", "/x"),
        conf("http://127.0.0.1:" + closed, "node-a", 2000));
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(1, add.exit(), add.toString());
    assertEquals(11L, ((Map<?, ?>) JsonReader.parse(add.stdout().getBytes())).get("code"), add.toString());
    assertTrue(millis < 15_000, "took " + millis + " ms");
  }

  @Test
  void add_unknownEtcdKey_failsWithCode7NamingIt() {
    String conf = conf(endpoint, "node-a").replace("\"prefix\"", "\"colour\":\"blue\",\"prefix\"");
    CniExec.Result add = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "py", "eth0", "/x"), conf);
    assertEquals(1, add.exit(), add.toString());
    assertTrue(add.stdout().contains("colour"), add.stdout());
  }

  private static String block(String address) {
    String[] octets = address.substring(0, address.indexOf('/')).split("\\.");
    return octets[2] + "." + (Integer.parseInt(octets[3]) / 64);
  }
}
