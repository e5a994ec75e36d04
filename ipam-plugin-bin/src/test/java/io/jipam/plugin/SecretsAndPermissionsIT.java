package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Permissions and secrets, on the built executables: the file store's directories are 0700 and
 * its files 0600 after real plugin calls; jipamd's unix socket is 0600; and an etcd password given
 * to the plugin or to jipamd appears in none of what they print or log (stdout, stderr, the
 * plugin's log file), whether etcd is unreachable or the config is refused.
 */
class SecretsAndPermissionsIT {
  private static final String SECRET = "S3cret-" + UUID.randomUUID();

  @TempDir Path tmp;

  @Test
  void fileStore_pluginCalls_dirs0700Files0600() throws Exception {
    Path data = tmp.resolve("data");
    String conf = ("{'cniVersion':'1.1.0','name':'perm-net','ipam':{'type':'jipam','dataDir':'" + data
        + "','ranges':[[{'subnet':'198.18.50.0/28'}],[{'subnet':'fd00:18:50::/124'}]]}}").replace('\'', '"');
    for (String id : List.of("a", "b")) {
      CniExec.Result r = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", id, "eth0", "/var/run/netns/x"), conf);
      assertEquals(0, r.exit(), r.toString());
    }
    CniExec.Result del = CniExec.run(CniExec.JIPAM, CniExec.env("DEL", "a", "eth0", null), conf);
    assertEquals(0, del.exit(), del.toString());
    List<String> wrong = new ArrayList<>();
    int files = 0;
    try (Stream<Path> all = Files.walk(data)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
        boolean dir = Files.isDirectory(p);
        files += dir ? 0 : 1;
        if (!mode.equals(dir ? "rwx------" : "rw-------")) {
          wrong.add(data.relativize(p) + " " + mode);
        }
      }
    }
    assertEquals(List.of(), wrong, "modes other than 0700 (directories) and 0600 (files)");
    assertTrue(files >= 6, "address files, cursors, lock, index files: " + files);
  }

  @Test
  void pluginEtcdStore_unreachableOrRefused_passwordNeverPrinted() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    Path log = tmp.resolve("plugin.log");
    String store = "'store':{'type':'etcd','endpoints':['http://127.0.0.1:" + closedPort + "'],'node':'n1',"
        + "'timeoutMillis':1500,'user':'jipam','password':'" + SECRET + "'";
    Map<String, String> confs = Map.of(
        "unreachable", store + "}",
        "refused config", store + ",'blockSizeV4':8}",
        "unknown key", store + ",'passwd':'" + SECRET + "x'}");
    for (Map.Entry<String, String> c : confs.entrySet()) {
      String conf = ("{'cniVersion':'1.0.0','name':'secret-net','ipam':{'type':'jipam','logFile':'" + log + "',"
          + "'ranges':[[{'subnet':'198.18.51.0/28'}]]," + c.getValue() + "}}").replace('\'', '"');
      CniExec.Result r = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "c1", "eth0", "/var/run/netns/x"), conf);
      assertNotEquals(0, r.exit(), c.getKey() + ": " + r);
      assertFalse(r.stdout().contains(SECRET), c.getKey() + ": password on stdout: " + r.stdout());
      assertFalse(r.stderr().contains(SECRET), c.getKey() + ": password on stderr: " + r.stderr());
    }
    String logged = Files.exists(log) ? Files.readString(log) : "";
    assertFalse(logged.contains(SECRET), "password in the plugin's log file: " + logged);
  }

  /**
   * A real etcd (without auth enabled, so it refuses the credentials the client presents): the
   * plugin's answer and log must not carry the password whatever the outcome.
   */
  @Test
  void pluginEtcdStore_realEtcdRefusingCredentials_passwordNeverPrinted() throws Exception {
    Path binary = Path.of("/usr/bin/etcd");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(binary) || CniExec.underCi(),
        "apt-get install etcd-server");
    int client;
    int peer;
    try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0)) {
      client = a.getLocalPort();
      peer = b.getLocalPort();
    }
    String endpoint = "http://127.0.0.1:" + client;
    Process etcd = new ProcessBuilder(binary.toString(), "--name", "sec", "--data-dir", tmp.resolve("etcd").toString(),
        "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
        "--listen-peer-urls", "http://127.0.0.1:" + peer, "--initial-advertise-peer-urls", "http://127.0.0.1:" + peer,
        "--initial-cluster", "sec=http://127.0.0.1:" + peer)
        .redirectErrorStream(true).redirectOutput(tmp.resolve("etcd.log").toFile()).start();
    try {
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (true) {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", client)) {
          break;
        } catch (IOException notYet) {
          assertTrue(System.nanoTime() < until && etcd.isAlive(), "etcd did not start: " + read(tmp.resolve("etcd.log")));
          Thread.sleep(100);
        }
      }
      Path log = tmp.resolve("plugin-real.log");
      String conf = ("{'cniVersion':'1.0.0','name':'secret-net','ipam':{'type':'jipam','logFile':'" + log + "',"
          + "'ranges':[[{'subnet':'198.18.53.0/28'}]],'store':{'type':'etcd','endpoints':['" + endpoint + "'],"
          + "'node':'n1','timeoutMillis':5000,'user':'jipam','password':'" + SECRET + "'}}}").replace('\'', '"');
      CniExec.Result r = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "c1", "eth0", "/var/run/netns/x"), conf);
      System.out.println("SecretsAndPermissionsIT: ADD with credentials etcd refuses: " + r);
      assertFalse((r.stdout() + r.stderr()).contains(SECRET), "password in the plugin's answer: " + r);
      assertFalse(read(log).contains(SECRET), "password in the plugin's log file: " + read(log));
    } finally {
      etcd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void jipamd_etcdStoreUnreachable_passwordNeverPrinted_socket0600() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    Path etcdConfig = tmp.resolve("etcd.json");
    Files.writeString(etcdConfig, ("{'endpoints':['http://127.0.0.1:" + closedPort + "'],'node':'n1',"
        + "'timeoutMillis':1500,'user':'jipam','password':'" + SECRET + "'}").replace('\'', '"'));
    Path socket = tmp.resolve("run/jipam.sock");
    Path out = tmp.resolve("jipamd.out");
    Process p = new ProcessBuilder(CniExec.DIST.resolve("bin/jipamd").toString(), "--store", "etcd",
        "--etcd-config", etcdConfig.toString(), "--socket", socket.toString(), "--log-calls")
        .redirectErrorStream(true).redirectOutput(out.toFile()).start();
    try {
      awaitReady(p, out);
      // the socket appears at its path only once bound and set to 0600: no wait, no condition
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
      // a call through the socket reaches the unreachable store and fails; the error is logged
      String conf = ("{'cniVersion':'1.0.0','name':'secret-net','ipam':{'type':'jipam','daemon':{'socket':'"
          + socket + "'},'ranges':[[{'subnet':'198.18.52.0/28'}]]}}").replace('\'', '"');
      CniExec.Result r = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "c1", "eth0", "/var/run/netns/x"), conf);
      assertFalse((r.stdout() + r.stderr()).contains(SECRET), "password in the plugin's answer: " + r);
    } finally {
      p.destroy();
      p.waitFor(15, TimeUnit.SECONDS);
      p.destroyForcibly();
    }
    String printed = read(out);
    assertFalse(printed.contains(SECRET), "password in jipamd's output: " + printed);
    assertFalse(printed.isEmpty(), "jipamd printed nothing, so the grep proves nothing");
  }

  @Test
  void jipamd_memoryStore_socket0600() throws Exception {
    Path socket = tmp.resolve("mem/jipam.sock");
    Process p = new ProcessBuilder(CniExec.DIST.resolve("bin/jipamd").toString(), "--store", "memory",
        "--socket", socket.toString()).redirectErrorStream(true).redirectOutput(tmp.resolve("mem.out").toFile())
        .start();
    try {
      awaitReady(p, tmp.resolve("mem.out"));
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    } finally {
      p.destroy();
      p.waitFor(15, TimeUnit.SECONDS);
      p.destroyForcibly();
    }
  }

  /** Waits (30 s at most) for jipamd to log "ready": it listens, its socket in place with its mode. */
  private static void awaitReady(Process p, Path out) throws IOException, InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!read(out).contains(" jipamd ready")) {
      assertTrue(p.isAlive() && System.nanoTime() < until, "jipamd not ready: " + read(out));
      Thread.sleep(20);
    }
  }

  private static String read(Path p) throws IOException {
    return Files.exists(p) ? new String(Files.readAllBytes(p), StandardCharsets.UTF_8) : "";
  }
}
