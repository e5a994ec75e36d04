package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * jipamctl with no jipamd, opening a file data dir itself ({@code --data-dir}, pools from {@code
 * --conf}): every read command and release, gc, check and reclaim-node, on a data dir written by
 * the reference host-local and on one written by jipam.
 */
@Timeout(60)
class JipamctlDataDirIT {
  @TempDir Path dir;

  String conflist(Path data) { // also MigrateIT
    return ("{'cniVersion':'1.0.0','name':'hl','plugins':[{'type':'bridge','bridge':'x0',"
        + "'ipam':{'type':'host-local','dataDir':'" + data + "','ranges':[[{'subnet':'198.18.60.0/24'}]]}}]}")
        .replace('\'', '"');
  }

  String netconf(Path data) {
    return ("{'cniVersion':'1.0.0','name':'hl','type':'bridge',"
        + "'ipam':{'type':'host-local','dataDir':'" + data + "','ranges':[[{'subnet':'198.18.60.0/24'}]]}}")
        .replace('\'', '"');
  }

  static final Pool POOL = new Pool("hl", List.of(new RangeSet(List.of(
      IpRange.withDefaults(Cidr.parse("198.18.60.0/24"), null, null, null, null)))), AllocationOrder.ROUND_ROBIN);

  /** Three containers c0..c2 on eth0 in data dir "data" of network hl, by the reference host-local or by jipam. */
  Path written(String by) throws Exception {
    Path data = dir.resolve("data");
    if (by.equals("host-local")) {
      HostLocalExec.assumePresent();
      for (int i = 0; i < 3; i++) {
        HostLocalExec.Result r = HostLocalExec.run("ADD", "c" + i, "eth0", netconf(data));
        assertEquals(0, r.exit(), r.out());
      }
    } else {
      try (IpamStore s = HostLocalStores.open(data)) {
        for (int i = 0; i < 3; i++) {
          s.allocate(POOL, new AllocationRequest(new Attachment("c" + i, "eth0"), List.of(), new PodRef("ns", "p" + i)));
        }
      }
    }
    Files.writeString(dir.resolve("hl.conflist"), conflist(data));
    return data;
  }

  CtlRun ctl(Path data, String... args) {
    String[] all = new String[args.length + 4];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--data-dir";
    all[args.length + 1] = data.toString();
    all[args.length + 2] = "--conf";
    all[args.length + 3] = dir.resolve("hl.conflist").toString();
    return CtlRun.of(all);
  }

  @ParameterizedTest
  @ValueSource(strings = {"host-local", "jipam"})
  void readCommands_dataDir_seeTheThreeAllocations(String by) throws Exception {
    Path data = written(by);
    CtlRun pools = ctl(data, "pools", "-o", "json");
    assertEquals(0, pools.exit(), pools.toString());
    JsonObject p = new JsonArray(pools.out()).getJsonObject(0);
    assertEquals("hl", p.getString("pool"));
    assertEquals(3, p.getJsonArray("rangeSets").getJsonObject(0).getInteger("used"));
    assertEquals("250", p.getJsonArray("rangeSets").getJsonObject(0).getString("free"));
    assertFalse(p.containsKey("blocks"), "a data dir has no blocks: " + p);

    CtlRun usage = ctl(data, "usage");
    assertEquals(0, usage.exit(), usage.toString());
    assertTrue(usage.out().contains("hl") && usage.out().contains("%") && !usage.out().contains("BLOCK"), usage.out());

    CtlRun list = ctl(data, "list", "-o", "json");
    assertEquals(0, list.exit(), list.toString());
    JsonArray rows = new JsonArray(list.out());
    assertEquals(3, rows.size(), list.out());
    assertEquals(List.of("198.18.60.2", "198.18.60.3", "198.18.60.4"),
        rows.stream().map(o -> ((JsonObject) o).getString("address")).toList());
    assertEquals(by.equals("jipam") ? "p1" : "", rows.getJsonObject(1).getString("podName"));

    CtlRun show = ctl(data, "show", "c1/eth0");
    assertEquals(0, show.exit(), show.toString());
    assertTrue(show.out().contains("198.18.60.3"), show.out());

    CtlRun check = ctl(data, "check");
    assertEquals(0, check.exit(), check.toString());
    assertTrue(check.out().contains("1 pools, 3 allocations: clean"), check.out());

    CtlRun byNode = ctl(data, "list", "--node", "n1");
    assertEquals(1, byNode.exit(), byNode.toString());
    assertTrue(byNode.err().contains("UNSUPPORTED_FIELD") && byNode.err().contains("records no node"), byNode.err());
  }

  @ParameterizedTest
  @ValueSource(strings = {"host-local", "jipam"})
  void changeCommands_dataDir_releaseGcReclaim(String by) throws Exception {
    Path data = written(by);
    CtlRun dry = ctl(data, "release", "198.18.60.2", "--dry-run");
    assertEquals(0, dry.exit(), dry.toString());
    assertTrue(Files.exists(data.resolve("hl/198.18.60.2")));
    CtlRun release = ctl(data, "release", "198.18.60.2", "--yes");
    assertEquals(0, release.exit(), release.toString());
    assertFalse(Files.exists(data.resolve("hl/198.18.60.2")), "address file still there");

    Path valid = dir.resolve("valid");
    Files.writeString(valid, "c2/eth0\n");
    CtlRun gc = ctl(data, "gc", "--pool", "hl", "--valid", valid.toString(), "--yes");
    assertEquals(0, gc.exit(), gc.toString());
    assertTrue(gc.out().contains("released") && gc.out().contains("198.18.60.3"), gc.out());
    assertFalse(Files.exists(data.resolve("hl/198.18.60.3")));
    assertTrue(Files.exists(data.resolve("hl/198.18.60.4")));

    CtlRun reclaim = ctl(data, "reclaim-node", "node-x");
    assertEquals(1, reclaim.exit(), reclaim.toString());
    assertTrue(reclaim.err().contains("UNSUPPORTED_FIELD") && reclaim.err().contains("node affinity"), reclaim.err());

    if (by.equals("host-local")) {
      // host-local still reads what jipamctl left: DEL of the last container removes its file
      HostLocalExec.Result del = HostLocalExec.run("DEL", "c2", "eth0", netconf(data));
      assertEquals(0, del.exit(), del.out());
      assertFalse(Files.exists(data.resolve("hl/198.18.60.4")));
    }
  }

  @Test
  void dataDir_networkWithoutConf_namedOnStderr() throws Exception {
    Path data = written("jipam");
    Files.createDirectories(data.resolve("other"));
    CtlRun r = ctl(data, "pools");
    assertEquals(0, r.exit(), r.toString());
    assertTrue(r.err().contains("network \"other\"") && r.err().contains("--conf"), r.err());
  }

  /**
   * A FIFO given as a file jipamctl reads whole (or among a --conf directory's configs) is refused
   * with one line, never read: reading one blocked for ever.
   */
  @Test
  void filesToRead_fifo_refusedWithOneLineNotRead() throws Exception {
    Path data = written("jipam");
    Path fifo = dir.resolve("fifo.conf");
    Path confs = Files.createDirectories(dir.resolve("net.d"));
    Files.copy(dir.resolve("hl.conflist"), confs.resolve("hl.conflist"));
    for (Path p : List.of(fifo, confs.resolve("other.conf"))) {
      Process mkfifo = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
      assertEquals(0, mkfifo.waitFor());
    }
    // args -> exit, the line
    Object[][] table = {
        {new String[] {"pools", "--data-dir", data.toString(), "--conf", fifo.toString()}, 1,
            "network config \"" + fifo + "\": cannot read: is not a regular file"},
        {new String[] {"pools", "--etcd-config", fifo.toString()}, 1,
            "cannot read etcd config \"" + fifo + "\": is not a regular file"},
        {new String[] {"gc", "--pool", "hl", "--valid", fifo.toString(), "--data-dir", data.toString(), "--conf",
            dir.resolve("hl.conflist").toString()}, 2, "--valid \"" + fifo + "\": cannot read: is not a regular file"},
        {new String[] {"pools", "--data-dir", data.toString(), "--conf", confs.toString()}, 0,
            "skipping \"" + confs.resolve("other.conf") + "\": cannot read: is not a regular file"},
    };
    for (Object[] c : table) {
      CtlRun r = CtlRun.of((String[]) c[0]);
      assertEquals(c[1], r.exit(), r.toString());
      assertEquals(1, r.err().strip().lines().count(), r.toString());
      assertTrue(r.err().contains((String) c[2]), r.toString());
    }
  }

  @Test
  void dataDir_missing_exitOneNamingIt() {
    CtlRun r = CtlRun.of("pools", "--data-dir", dir.resolve("nope").toString());
    assertEquals(1, r.exit(), r.toString());
    assertTrue(r.err().contains("nope") && r.err().contains("does not exist"), r.err());
  }

  @Test
  void noDaemonNoStore_exitOneNamingTheWaysOut() {
    CtlRun r = CtlRun.of("list", "--server", "unix:" + dir.resolve("none.sock"));
    assertEquals(1, r.exit(), r.toString());
    assertTrue(r.err().contains("no jipamd answers at unix:" + dir.resolve("none.sock"))
        && r.err().contains("--data-dir") && r.err().contains("--etcd-config"), r.err());
  }
}
