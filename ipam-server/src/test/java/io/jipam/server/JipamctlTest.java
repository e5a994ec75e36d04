package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.ctl.Jipamctl;
import io.jipam.server.metrics.CallLog;
import io.vertx.core.json.JsonArray;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** jipamctl's commands against a real jipamd (in this JVM, on a unix socket, file store). */
@Timeout(60)
class JipamctlTest {
  @TempDir Path dir;
  IpamServer server;
  RemoteStore remote;
  String address;
  final Pool pool = new Pool("pods", List.of(
      new RangeSet(List.of(IpRange.withDefaults(Cidr.parse("198.18.0.0/24"), null, null, null, null))),
      new RangeSet(List.of(IpRange.withDefaults(Cidr.parse("fd00:7::/120"), null, null, null, null)))),
      AllocationOrder.LOWEST_FREE);

  @BeforeEach
  void start() {
    Path socket = dir.resolve("jipam.sock");
    server = IpamServer.start(io.jipam.hostlocal.HostLocalStores.open(dir.resolve("data")),
        IpamServer.Settings.unix(socket), CallLog.quiet());
    address = "unix:" + socket;
    remote = RemoteStore.connect(RemoteStore.Target.parse(address));
    for (int i = 0; i < 3; i++) {
      remote.allocate(pool, new AllocationRequest(new Attachment("c" + i, "eth0"), List.of(),
          new PodRef("default", "web-" + i)));
    }
  }

  @AfterEach
  void stop() {
    remote.close();
    server.close();
  }

  record Run(int exit, String out, String err) {}

  Run ctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    // the connection options before the command, as an operator types them; the other test
    // gives them after the command
    String[] all = new String[args.length + 2];
    all[0] = "--server";
    all[1] = address;
    System.arraycopy(args, 0, all, 2, args.length);
    CommandLine cl = Jipamctl.commandLine(all);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int exit = cl.execute(all);
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void usage_threeAttachments_threeUsedPerSetWithBar() {
    Run r = ctl("usage");
    assertEquals(0, r.exit, r.err);
    assertTrue(r.out.contains("pods") && r.out.contains("[") && r.out.contains("%"), r.out);
    Run json = ctl("pools", "-o", "json");
    JsonArray pools = new JsonArray(json.out);
    assertEquals(3, pools.getJsonObject(0).getJsonArray("rangeSets").getJsonObject(1).getInteger("used"));
    assertEquals("250", pools.getJsonObject(0).getJsonArray("rangeSets").getJsonObject(0).getString("free"));
    assertTrue(!pools.getJsonObject(0).containsKey("blocks") && !r.out.contains("BLOCK"), "the file store has no blocks");
  }

  /**
   * {@code pools --network}: that network's own pool and its sub-pools through jipamd (ListPools of
   * the network), not another network whose name it begins; a value that is no network name is a
   * usage error (one line, exit 2).
   */
  @Test
  void pools_networkFilter_theNetworksPoolsOnly() {
    for (String name : List.of("pods+db", "pods2", "other+x")) {
      remote.allocate(new Pool(name, pool.rangeSets(), AllocationOrder.LOWEST_FREE),
          AllocationRequest.of(new Attachment("n-" + name.replace('+', '-'), "eth0")));
    }
    record Row(String network, List<String> want) {}
    for (Row row : List.of(new Row("pods", List.of("pods", "pods+db")), new Row("pods2", List.of("pods2")),
        new Row("other", List.of("other+x")), new Row("pod", List.of()))) {
      Run r = ctl("pools", "--network", row.network(), "-o", "json");
      assertEquals(0, r.exit, row + ": " + r.err);
      JsonArray pools = new JsonArray(r.out);
      List<String> names = new java.util.ArrayList<>();
      for (int i = 0; i < pools.size(); i++) {
        names.add(pools.getJsonObject(i).getString("pool"));
      }
      assertEquals(row.want(), names, row.toString());
    }
    for (String bad : List.of("pods+db", "a/b", "-x")) {
      Run r = ctl("pools", "--network", bad);
      assertEquals(2, r.exit, bad + ": " + r);
      assertEquals(1, r.err.strip().lines().count(), r.err);
      assertTrue(r.err.startsWith("jipamctl: --network: invalid network name "), r.err);
    }
  }

  @Test
  void list_filterByPod_onlyThatPodsAddresses() {
    Run r = ctl("list", "--pod", "web-1", "-o", "json");
    assertEquals(0, r.exit, r.err);
    JsonArray rows = new JsonArray(r.out);
    assertEquals(2, rows.size());
    assertEquals("c1", rows.getJsonObject(0).getString("containerId"));
    assertEquals("198.18.0.3", rows.getJsonObject(0).getString("address"));
  }

  @Test
  void show_addressAndAttachment_findHolder() {
    Run byAddress = ctl("show", "198.18.0.4");
    assertEquals(0, byAddress.exit, byAddress.err);
    assertTrue(byAddress.out.contains("c2/eth0") && byAddress.out.contains("default/web-2"), byAddress.out);
    Run none = ctl("show", "198.18.0.99");
    assertEquals(1, none.exit);
  }

  @Test
  void release_dryRunThenYes_onlyTheRealRunReleases() {
    Run dry = ctl("release", "c0/eth0", "--dry-run");
    assertEquals(0, dry.exit, dry.err);
    assertTrue(dry.out.contains("would release") && dry.out.contains("198.18.0.2"), dry.out);
    assertEquals(2, remote.find(pool, new Attachment("c0", "eth0")).size());
    Run real = ctl("release", "198.18.0.2", "--yes");
    assertEquals(0, real.exit, real.err);
    assertEquals(List.of(), remote.find(pool, new Attachment("c0", "eth0")));
    assertEquals(4, remote.list(pool).size());
  }

  @Test
  void gc_validFile_releasesTheRest() throws Exception {
    Path valid = dir.resolve("valid");
    Files.writeString(valid, "# kept\nc1/eth0\n");
    Run dry = ctl("gc", "--pool", "pods", "--valid", valid.toString(), "--dry-run");
    assertEquals(0, dry.exit, dry.err);
    assertEquals(4, dry.out.lines().filter(l -> l.startsWith("would release")).count(), dry.out);
    assertEquals(6, remote.list(pool).size());
    Run real = ctl("gc", "--pool", "pods", "--valid", valid.toString(), "--yes");
    assertEquals(0, real.exit, real.err);
    assertEquals(2, remote.list(pool).size());
  }

  @Test
  void check_consistentStore_cleanExitZero() {
    Run r = ctl("check");
    assertEquals(0, r.exit, r.out + r.err);
    assertTrue(r.out.contains("1 pools, 6 allocations: clean"), r.out);
  }

  @Test
  void check_addressOutsideRanges_foundAndExitOne() throws Exception {
    // another node's conflist wrote an address of another subnet into this pool's data dir
    Path file = dir.resolve("data/pods/198.18.9.9");
    Files.writeString(file, "stray\r\neth0");
    try (IpamStore reopened = io.jipam.hostlocal.HostLocalStores.open(dir.resolve("data"))) {
      reopened.list(pool);
    }
    server.close();
    Path socket = dir.resolve("jipam2.sock");
    server = JipamdOverDataDir.serve(dir.resolve("data"), socket, pool);
    address = "unix:" + socket;
    Run r = ctl("check");
    assertEquals(1, r.exit, r.out + r.err);
    assertTrue(r.out.contains("198.18.9.9") && r.out.contains("in no range set"), r.out);
  }

  /**
   * Two pools of one network holding one address (two pods on it): data a sub-pool rename left
   * before the stores kept a network's pools apart, made here by moving an address file. Each pool
   * alone is consistent; check names the pair.
   */
  @Test
  void check_addressHeldInTwoPoolsOfOneNetwork_foundAndExitOne() throws Exception {
    java.util.function.Function<String, Pool> sub = name -> new Pool("net+" + name, List.of(new RangeSet(List.of(
        IpRange.withDefaults(Cidr.parse("198.18.16.0/28"), null, null, null, null)))), AllocationOrder.LOWEST_FREE);
    remote.allocate(sub.apply("db"), new AllocationRequest(new Attachment("p1", "eth0"), List.of(), new PodRef("db", "db-0")));
    remote.allocate(sub.apply("data"), new AllocationRequest(new Attachment("p3", "eth0"), List.of(), new PodRef("db", "db-2")));
    Path data = dir.resolve("data").resolve("net+data");
    java.nio.file.Files.move(data.resolve("198.18.16.3"), data.resolve("198.18.16.2"));
    Run r = ctl("check");
    assertEquals(1, r.exit, r.out + r.err);
    assertTrue(r.out.contains("198.18.16.2 is held in pool net+d") && r.out.contains("pools of one network")
        && r.out.contains("p1/eth0") && r.out.contains("p3/eth0"), r.out);
  }

  @Test
  void reclaimNode_fileStore_failsNamingWhy() {
    Run r = ctl("reclaim-node", "node-9");
    assertEquals(1, r.exit);
    assertTrue(r.err.contains("UNSUPPORTED_FIELD") && r.err.contains("node affinity"), r.err);
  }

  @Test
  void noJipamd_exitOneWithTryAgainLater() {
    StringWriter err = new StringWriter();
    CommandLine cl = Jipamctl.commandLine();
    cl.setErr(new PrintWriter(err, true));
    int exit = cl.execute("pools", "--server", "unix:" + dir.resolve("none.sock"), "--timeout", "2");
    assertEquals(1, exit);
    assertTrue(err.toString().contains("TRY_AGAIN_LATER"), err.toString());
  }

  @Test
  void usage_ipv6Slash64_freeReadableInTextExactInJson() {
    Pool v6 = IpamServerTest.pool("wide", "fd00:64::/64");
    remote.allocate(v6, AllocationRequest.of(new Attachment("w1", "eth0")));
    Run text = ctl("usage", "--pool", "wide");
    assertEquals(0, text.exit, text.err);
    assertTrue(text.out.contains(" 2^64-") && text.out.contains("<0.1%"), text.out);
    assertTrue(!text.out.contains("18446744073709551"), text.out);
    Run json = ctl("usage", "--pool", "wide", "-o", "json");
    String free = new JsonArray(json.out).getJsonObject(0).getJsonArray("rangeSets").getJsonObject(0).getString("free");
    assertTrue(new java.math.BigInteger(free).compareTo(java.math.BigInteger.ONE.shiftLeft(63)) > 0, free);
    assertTrue(text.out.contains(" 2^64-" + java.math.BigInteger.ONE.shiftLeft(64).subtract(new java.math.BigInteger(free))),
        text.out + " vs " + free);
  }

  /**
   * main's command line, built with only the commands the arguments name, answers every kind of
   * argument list exactly as the one with every command: help, version, a command, options before
   * and after it, an option whose value is a command's name, a mistyped command, no command.
   */
  @Test
  void commandLineForArgs_table_sameOutputAndExitAsWithEveryCommand() {
    String server = "unix:" + dir.resolve("none.sock");
    List<String[]> table = List.of(
        new String[] {"--help"}, new String[] {"--version"}, new String[] {}, new String[] {"pool"},
        new String[] {"pools", "--help"}, new String[] {"--server", server, "pools", "--timeout", "1"},
        new String[] {"pools", "--server", server, "--timeout", "1"},
        new String[] {"--as-node", "check", "--server", server, "--timeout", "1", "pools"},
        new String[] {"-o", "yaml", "usage"}, new String[] {"gc", "--bogus"}, new String[] {"show", "show"},
        new String[] {"reserve", "--help"}, new String[] {"migrate"});
    for (String[] args : table) {
      StringWriter[] outs = new StringWriter[4];
      int[] exits = new int[2];
      for (int i = 0; i < 2; i++) {
        CommandLine cl = i == 0 ? Jipamctl.commandLine() : Jipamctl.commandLine(args);
        outs[2 * i] = new StringWriter();
        outs[2 * i + 1] = new StringWriter();
        cl.setOut(new PrintWriter(outs[2 * i], true));
        cl.setErr(new PrintWriter(outs[2 * i + 1], true));
        exits[i] = cl.execute(args);
      }
      String what = String.join(" ", args);
      assertEquals(exits[0], exits[1], what);
      assertEquals(outs[0].toString(), outs[2].toString(), what);
      assertEquals(outs[1].toString(), outs[3].toString(), what);
    }
  }
}
