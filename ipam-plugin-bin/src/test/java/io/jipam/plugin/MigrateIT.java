package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.core.cni.JsonReader;
import io.jipam.testkit.Etcd;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node moves from host-local to jipam on etcd and back with the built {@code jipamctl migrate},
 * its pods keeping their addresses: the reference host-local ADDs three containers into a data dir;
 * migrate copies them into a real etcd; the built {@code jipam} plugin on etcd passes CHECK with
 * host-local's results, answers a repeated ADD with the same address, gives a new pod another one
 * and releases one on DEL; migrate copies the node's attachments back into a data dir, where the
 * reference host-local's DEL releases them.
 */
class MigrateIT {
  private static Etcd etcd;
  private static String endpoint;
  static final Path JIPAMCTL = CniExec.DIST.resolve("bin/jipamctl");

  @TempDir Path dir;

  @BeforeAll
  static void startEtcd() throws Exception {
    if (CniExec.underCi()) {
      assertTrue(Files.isExecutable(CniExec.HOST_LOCAL), "apt-get install containernetworking-plugins");
    }
    assumeTrue(Files.isExecutable(CniExec.HOST_LOCAL), "apt-get install containernetworking-plugins");
    etcd = Etcd.single();
    endpoint = etcd.endpoint();
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) {
      etcd.close();
    }
  }

  static String hostLocalConf(Path data) {
    return ("{'cniVersion':'1.0.0','name':'mig','type':'bridge','ipam':{'type':'host-local','dataDir':'" + data
        + "','ranges':[[{'subnet':'198.18.61.0/24'}]]}}").replace('\'', '"');
  }

  static String jipamConf(String prefix, String prev) {
    return ("{'cniVersion':'1.0.0','name':'mig','type':'bridge'," + prev + "'ipam':{'type':'jipam',"
        + "'ranges':[[{'subnet':'198.18.61.0/24'}]],'store':{'type':'etcd','endpoints':['" + endpoint
        + "'],'node':'node-a','timeoutMillis':5000,'prefix':'" + prefix + "'}}}").replace('\'', '"');
  }

  @SuppressWarnings("unchecked")
  static String address(CniExec.Result add) {
    assertEquals(0, add.exit(), add.toString());
    Map<String, Object> result = (Map<String, Object>) JsonReader.parse(add.stdout().getBytes());
    return (String) ((List<Map<String, Object>>) result.get("ips")).get(0).get("address");
  }

  /** The built jipamctl with these arguments: its exit code, stdout and stderr. */
  CniExec.Result jipamctl(String... args) throws Exception {
    assertTrue(Files.isExecutable(JIPAMCTL), JIPAMCTL + " is missing: build ipam-server before this module");
    List<String> command = new ArrayList<>(List.of(JIPAMCTL.toString()));
    command.addAll(List.of(args));
    Path out = Files.createTempFile(dir, "ctl", ".out");
    Path err = Files.createTempFile(dir, "ctl", ".err");
    Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("jipamctl " + command + " did not finish within 120 s");
    }
    return new CniExec.Result(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  @Test
  void migrate_hostLocalToEtcdAndBack_podsKeepTheirAddresses() throws Exception {
    Path data = dir.resolve("data");
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      addresses.add(address(CniExec.run(CniExec.HOST_LOCAL, CniExec.env("ADD", "c" + i, "eth0", "/x"),
          hostLocalConf(data))));
    }
    Path conf = dir.resolve("mig.conflist");
    Files.writeString(conf, hostLocalConf(data));
    String prefix = "/migrate-it-" + UUID.randomUUID();
    Path etcdConfig = dir.resolve("etcd.json");
    Files.writeString(etcdConfig, ("{'endpoints':['" + endpoint + "'],'node':'node-a','prefix':'" + prefix
        + "','timeoutMillis':5000}").replace('\'', '"'));

    // (the dry run and refusals: MigrateIT in ipam-server)
    CniExec.Result real = jipamctl("migrate", "--from", data.toString(), "--to", etcdConfig.toString(), "--conf",
        conf.toString());
    assertEquals(0, real.exit(), real.toString());
    assertTrue(real.stdout().contains("3 attachments written") && real.stdout().contains("clean"), real.toString());

    // the plugin on etcd: CHECK with host-local's results, a repeated ADD keeps the address
    for (int i = 0; i < 3; i++) {
      String prev = "'prevResult':{'cniVersion':'1.0.0','ips':[{'address':'" + addresses.get(i) + "'}]},";
      CniExec.Result check = CniExec.run(CniExec.JIPAM, CniExec.env("CHECK", "c" + i, "eth0", "/x"),
          jipamConf(prefix, prev.replace('\'', '"')));
      assertEquals(0, check.exit(), "CHECK c" + i + ": " + check);
    }
    assertEquals(addresses.get(1), address(CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "c1", "eth0", "/x"),
        jipamConf(prefix, ""))));
    String fresh = address(CniExec.run(CniExec.JIPAM, CniExec.env("ADD", "n0", "eth0", "/x"), jipamConf(prefix, "")));
    assertFalse(addresses.contains(fresh), fresh + " was handed out again");
    assertEquals(0, CniExec.run(CniExec.JIPAM, CniExec.env("DEL", "c0", "eth0", null), jipamConf(prefix, "")).exit());

    // back into a data dir for node-a: host-local's DEL releases what was copied
    Path back = dir.resolve("back");
    CniExec.Result toFiles = jipamctl("migrate", "--from", etcdConfig.toString(), "--to", back.toString(), "--node",
        "node-a", "--conf", conf.toString());
    assertEquals(0, toFiles.exit(), toFiles.toString());
    assertTrue(toFiles.stdout().contains("3 attachments written") && toFiles.stdout().contains("clean"),
        toFiles.toString());
    assertFalse(Files.exists(back.resolve("mig/" + addresses.get(0).split("/")[0])), "c0 was DELed on etcd");
    for (String id : List.of("c1", "c2", "n0")) {
      CniExec.Result del = CniExec.run(CniExec.HOST_LOCAL, CniExec.env("DEL", id, "eth0", "/x"), hostLocalConf(back));
      assertEquals(0, del.exit(), "host-local DEL " + id + ": " + del);
    }
    try (var left = Files.list(back.resolve("mig"))) {
      List<String> files = left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("198.")).toList();
      assertEquals(List.of(), files, "host-local's DEL left address files");
    }
  }
}
