package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import io.jipam.testkit.Ports;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
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
    int closedPort = Ports.free();
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
    try (Etcd etcd = Etcd.single()) {
      String endpoint = etcd.endpoint();
      Path log = tmp.resolve("plugin-real.log");
      String conf = ("{'cniVersion':'1.0.0','name':'secret-net','ipam':{'type':'jipam','logFile':'" + log + "',"
          + "'ranges':[[{'subnet':'198.18.53.0/28'}]],'store':{'type':'etcd','endpoints':['" + endpoint + "'],"
          + "'node':'n1','timeoutMillis':5000,'user':'jipam','password':'" + SECRET + "'}}}").replace('\'', '"');
      CniExec.Result r = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "c1", "eth0", "/var/run/netns/x"), conf);
      System.out.println("SecretsAndPermissionsIT: ADD with credentials etcd refuses: " + r);
      assertFalse((r.stdout() + r.stderr()).contains(SECRET), "password in the plugin's answer: " + r);
      assertFalse(read(log).contains(SECRET), "password in the plugin's log file: " + read(log));
    }
  }

  @Test
  void jipamd_etcdStoreUnreachable_passwordNeverPrinted_socket0600() throws Exception {
    int closedPort = Ports.free();
    Path etcdConfig = tmp.resolve("etcd.json");
    Files.writeString(etcdConfig, ("{'endpoints':['http://127.0.0.1:" + closedPort + "'],'node':'n1',"
        + "'timeoutMillis':1500,'user':'jipam','password':'" + SECRET + "'}").replace('\'', '"'));
    Path socket = tmp.resolve("run/jipam.sock");
    String printed;
    try (JipamdProcess jipamd = CniExec.jipamd(tmp, Map.of(), "--store", "etcd", "--etcd-config",
        etcdConfig.toString(), "--socket", socket.toString(), "--log-calls")) {
      // the socket appears at its path only once bound and set to 0600: no wait, no condition
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
      // a call through the socket reaches the unreachable store and fails; the error is logged
      String conf = ("{'cniVersion':'1.0.0','name':'secret-net','ipam':{'type':'jipam','daemon':{'socket':'"
          + socket + "'},'ranges':[[{'subnet':'198.18.52.0/28'}]]}}").replace('\'', '"');
      CniExec.Result r = CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "c1", "eth0", "/var/run/netns/x"), conf);
      assertFalse((r.stdout() + r.stderr()).contains(SECRET), "password in the plugin's answer: " + r);
      jipamd.stop();
      printed = jipamd.output();
    }
    assertFalse(printed.contains(SECRET), "password in jipamd's output: " + printed);
    assertFalse(printed.isEmpty(), "jipamd printed nothing, so the grep proves nothing");
  }

  @Test
  void jipamd_memoryStore_socket0600() throws Exception {
    Path socket = tmp.resolve("mem/jipam.sock");
    try (JipamdProcess jipamd = CniExec.jipamd(tmp, Map.of(), "--store", "memory", "--socket", socket.toString())) {
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    }
  }

  private static String read(Path p) throws IOException {
    return Files.exists(p) ? new String(Files.readAllBytes(p), StandardCharsets.UTF_8) : "";
  }
}
