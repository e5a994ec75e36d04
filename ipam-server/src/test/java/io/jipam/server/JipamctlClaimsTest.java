package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * jipamctl's claim commands ({@code reserve}, {@code unreserve}, {@code reservations}, and the
 * claims {@code show}, {@code list} and {@code release} see) and {@code usage} of sub-pools, on a
 * data dir opened directly with the network's conflist.
 */
@Timeout(60)
class JipamctlClaimsTest {
  static final String CONF = ("{'cniVersion':'1.1.0','name':'net','plugins':[{'type':'bridge','ipam':{'type':'jipam',"
      + "'ranges':[[{'subnet':'198.18.0.0/28'}]],'subPools':[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]],"
      + "'namespaces':['db']}]}}]}").replace('\'', '"');

  @TempDir Path dir;
  Path conf;

  @BeforeEach
  void write() throws Exception {
    conf = Files.writeString(dir.resolve("net.conflist"), CONF);
    Files.createDirectories(dir.resolve("data"));
  }

  /** Where jipamctl looks: the data dir with the conflist, unless a test names a jipamd. */
  String[] ctlArgs;

  CtlRun ctl(String... args) {
    String[] where = ctlArgs != null ? ctlArgs
        : new String[] {"--data-dir", dir.resolve("data").toString(), "--conf", conf.toString()};
    String[] all = new String[args.length + where.length];
    System.arraycopy(args, 0, all, 0, args.length);
    System.arraycopy(where, 0, all, args.length, where.length);
    return CtlRun.of(all);
  }

  /** Table: arguments -> the one-line usage error (exit 2), before any store is opened. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '#', value = {
      "reserve 198.18.0.5 # Error: Missing required argument (specify one of these): (--pod=NS/NAME |"
          + " --namespace=NS)",
      "reserve 198.18.0.5 --pod db/a --namespace db # Error: --pod=NS/NAME, --namespace=NS are mutually"
          + " exclusive (specify only one)",
      "reserve nope --pod db/a # ADDRESS \"nope\" is not an IP address",
      "reserve 198.18.0.5 --pod dba # --pod \"dba\" is not NAMESPACE/NAME",
      "reserve 198.18.0.5 --pod Db/a # --pod namespace \"Db\" is not a Kubernetes namespace: only"
          + " lowercase letters, digits, '-' are allowed",
      "reserve 198.18.0.5 --namespace db_x # --namespace namespace \"db_x\" is not a Kubernetes namespace:"
          + " only lowercase letters, digits, '-' are allowed",
      "unreserve 198.18.0.300 # ADDRESS \"198.18.0.300\" is not an IP address",
  })
  void claimCommands_badUsage_oneLineExit2(String args, String message) {
    CtlRun r = ctl(args.split(" "));
    assertEquals(2, r.exit(), r.toString());
    assertEquals("jipamctl: " + message + " (see jipamctl " + args.split(" ")[0] + " --help)", r.err().strip(),
        r.toString());
    assertEquals(1, r.err().strip().lines().count(), r.toString());
  }

  @Test
  void reserve_addressOutsideEveryPool_exit1NamingIt() {
    CtlRun r = ctl("reserve", "198.18.9.5", "--namespace", "db");
    assertEquals(1, r.exit(), r.toString());
    assertTrue(r.err().contains("has 198.18.9.5 in its ranges"), r.toString());
  }

  /**
   * {@code usage} has a row per sub-pool, under its store pool's name: on the data dir with the
   * config, and through a jipamd whose CNI call made the allocation.
   */
  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void usage_networkWithSubPools_reportsEachSubPool(String via) throws Exception {
    Files.writeString(conf, twoSubPools(true));
    try (JipamdOverDataDir jipamd = via.equals("jipamd") ? jipamdWithOneAdd() : null) {
      if (jipamd == null) {
        try (IpamStore store = HostLocalStores.open(dir.resolve("data"))) {
          Pool db = NetworkConfig.from(JsonReader.parse(twoSubPools(true).getBytes(StandardCharsets.UTF_8))).ipam()
              .subPools().get(0).pool();
          store.allocate(db, new AllocationRequest(new Attachment("c1", "eth0"), List.of(), new PodRef("db", "db-0")));
        }
      }
      CtlRun r = ctl("usage");
      assertEquals(0, r.exit(), r.toString());
      List<String> rows = r.out().lines().skip(1).toList();
      assertEquals(3, rows.size(), r.toString());
      assertTrue(rows.get(0).startsWith("net ") && rows.get(0).contains(" 0 "), r.toString());
      assertTrue(rows.get(1).startsWith("net+db ") && rows.get(1).contains(" 1 "), r.toString());
      assertTrue(rows.get(2).startsWith("net+edge ") && rows.get(2).contains(" 0 "), r.toString());
    }
  }

  /**
   * A jipamd on the data dir that served one CNI ADD of pod db/db-0 on {@link #twoSubPools}; jipamctl
   * then asks it ({@link #ctlArgs}).
   */
  JipamdOverDataDir jipamdWithOneAdd() throws Exception {
    JipamdOverDataDir jipamd = new JipamdOverDataDir(dir, dir.resolve("data"));
    try {
      IpamServerTest.Reply add = IpamServerTest.cni(jipamd.socket, "CNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_IFNAME=eth0\n"
          + "CNI_NETNS=/var/run/netns/x\nCNI_PATH=/opt/cni/bin\nCNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=db;"
          + "K8S_POD_NAME=db-0\n\n" + twoSubPools(true));
      assertEquals(0, add.exit(), add.body());
    } catch (Exception | AssertionError e) {
      jipamd.close();
      throw e;
    }
    ctlArgs = jipamd.ctlArgs();
    return jipamd;
  }

  /** A network with two sub-pools, each with selectors; with {@code defaults} false, sub-pools only. */
  static String twoSubPools(boolean defaults) {
    return ("{'cniVersion':'1.1.0','name':'net','type':'bridge','ipam':{'type':'jipam',"
        + (defaults ? "'ranges':[[{'subnet':'198.18.0.0/28'}]]," : "")
        + "'subPools':[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['db'],'pods':['db/*']},"
        + "{'name':'edge','ranges':[[{'subnet':'198.18.2.0/28'}]],'nodes':['edge-*']}]}}").replace('\'', '"');
  }

  /**
   * {@code pools} names each sub-pool's network, place, selectors and fallback, and the network's
   * default pool, in text and JSON: from the conflist on a data dir, and from a jipamd that learnt
   * them from a CNI call on its socket (ListPools' sub_pool).
   */
  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void pools_networkWithSubPools_showsNetworkSelectorsAndDefault(String via) throws Exception {
    Files.writeString(conf, twoSubPools(true));
    try (JipamdOverDataDir jipamd = via.equals("jipamd") ? jipamdWithOneAdd() : null) {
      CtlRun text = ctl("pools");
      assertEquals(0, text.exit(), text.toString());
      assertEquals(List.of("net (round-robin)",
          "  default pool of network net, for pods no sub-pool matches; sub-pools: net+db, net+edge",
          "net+db (round-robin)",
          "  sub-pool ipam.subPools[0] of network net: namespaces=db pods=db/*; no match: pool net",
          "net+edge (round-robin)",
          "  sub-pool ipam.subPools[1] of network net: nodes=edge-*; no match: pool net"),
          text.out().lines().filter(l -> !l.startsWith("  set ")).toList(), text.toString());
      CtlRun json = ctl("pools", "-o", "json");
      assertEquals(0, json.exit(), json.toString());
      io.vertx.core.json.JsonArray all = new io.vertx.core.json.JsonArray(json.out());
      assertEquals(new io.vertx.core.json.JsonArray(List.of("net+db", "net+edge")),
          all.getJsonObject(0).getJsonArray("subPools"));
      assertEquals(new io.vertx.core.json.JsonObject("{'network':'net','name':'db','index':0,'namespaces':['db'],"
          .replace('\'', '"') + "\"pods\":[\"db/*\"],\"nodes\":[],\"defaultPool\":\"net\"}"),
          all.getJsonObject(1).getJsonObject("subPool"));
      assertEquals("edge-*", all.getJsonObject(2).getJsonObject("subPool").getJsonArray("nodes").getString(0));
    }
  }

  @Test
  void pools_networkOfSubPoolsOnly_saysAnAddNoSubPoolMatchesFails() throws Exception {
    Files.writeString(conf, twoSubPools(false));
    CtlRun text = ctl("pools");
    assertEquals(0, text.exit(), text.toString());
    assertEquals(List.of("net+db (round-robin)",
        "  sub-pool ipam.subPools[0] of network net: namespaces=db pods=db/*; no match: no default pool (the ADD fails)",
        "net+edge (round-robin)",
        "  sub-pool ipam.subPools[1] of network net: nodes=edge-*; no match: no default pool (the ADD fails)"),
        text.out().lines().filter(l -> !l.startsWith("  set ")).toList(), text.toString());
    CtlRun json = ctl("pools", "-o", "json");
    assertTrue(json.out().contains("\"defaultPool\" : null"), json.toString());
  }

  /**
   * The whole round, on the data dir directly and through a jipamd over it (RemoteBackend: the
   * Reserve, ListClaims, Unreserve calls), including a hold that {@code list} shows with its
   * expiry and {@code release} ends.
   */
  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void reserve_showReservationsUnreserve_roundTrip(String via) {
    Pool db = subPool();
    try (JipamdOverDataDir jipamd = via.equals("jipamd") ? new JipamdOverDataDir(dir, dir.resolve("data"), db) : null) {
      if (jipamd != null) {
        ctlArgs = jipamd.ctlArgs();
      }
      CtlRun reserved = ctl("reserve", "198.18.1.5", "--pod", "db/db-0");
      assertEquals(0, reserved.exit(), reserved.toString());
      assertEquals("reserved 198.18.1.5 in pool net+db for db/db-0", reserved.out().strip());
      CtlRun list = ctl("reservations");
      assertEquals(2, list.out().lines().count(), list.toString());
      assertTrue(list.out().lines().skip(1).findFirst().orElse("")
          .matches("net\\+db +198\\.18\\.1\\.5 +reservation +db/db-0 +-"), list.toString());
      CtlRun show = ctl("show", "198.18.1.5");
      assertEquals(0, show.exit(), show.toString());
      assertTrue(show.out().contains("reservation"), show.toString());
      CtlRun again = ctl("reserve", "198.18.1.5", "--pod", "db/db-1");
      assertEquals(1, again.exit(), again.toString());
      assertTrue(again.err().contains("198.18.1.5 is in use (reserved for pod db/db-0); nothing was written"),
          again.toString());
      assertTrue(!again.err().contains("--when-free"), "no hint that cannot help: " + again);
      assertEquals(0, ctl("unreserve", "198.18.1.5").exit());
      assertEquals(1, ctl("unreserve", "198.18.1.5").exit());
      assertEquals(1, ctl("reservations").out().lines().count());
    }
  }

  /**
   * A sub-pool renamed ("old" to "db") while it held an address: reserving that address in the new
   * sub-pool names its holder and the old pool, writes nothing, and hints at --when-free, which
   * records it; directly and through a jipamd.
   */
  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void reserve_addressAnotherPoolOfTheNetworkHolds_inUseNamingThatPool(String via) {
    Pool db = subPool();
    Pool old = new Pool("net+old", db.rangeSets(), db.order());
    try (IpamStore store = HostLocalStores.open(dir.resolve("data"))) {
      store.allocate(old, new AllocationRequest(new Attachment("c1", "eth0"),
          List.of(io.jipam.core.net.IpAddress.parse("198.18.1.5")), new PodRef("web", "w-0")));
    }
    try (JipamdOverDataDir jipamd = via.equals("jipamd") ? new JipamdOverDataDir(dir, dir.resolve("data"), db) : null) {
      if (jipamd != null) {
        ctlArgs = jipamd.ctlArgs();
      }
      CtlRun refused = ctl("reserve", "198.18.1.5", "--pod", "db/db-0");
      assertEquals(1, refused.exit(), refused.toString());
      assertTrue(refused.err().contains("198.18.1.5 is in use (allocated to c1/eth0 of pod web/w-0 in pool net+old"
          + " of network net, whose pools share its addresses); nothing was written (--when-free"), refused.toString());
      assertEquals(1, ctl("reservations").out().lines().count(), "nothing written");
      CtlRun whenFree = ctl("reserve", "198.18.1.5", "--pod", "db/db-0", "--when-free");
      assertEquals(0, whenFree.exit(), whenFree.toString());
      assertEquals("reserved 198.18.1.5 in pool net+db for db/db-0", whenFree.out().strip());
    }
  }

  @Test
  void listAndRelease_holdOfAStickyPod_shownWithExpiryAndEnded() throws Exception {
    String stickyConf = CONF.replace("\"subPools\"",
        "\"sticky\":{\"pods\":[\"db/*\"],\"holdSeconds\":900,\"maxHeldPercent\":100},\"subPools\"");
    Files.writeString(conf, stickyConf);
    Pool sticky = subPool(stickyConf);
    try (IpamStore store = HostLocalStores.open(dir.resolve("data"))) {
      store.allocate(sticky, new AllocationRequest(new Attachment("c1", "eth0"), List.of(), new PodRef("db", "db-0")));
      store.release(sticky, new Attachment("c1", "eth0"));
    }
    CtlRun list = ctl("list");
    assertEquals(0, list.exit(), list.toString());
    assertTrue(list.out().lines().anyMatch(l -> l.matches("net\\+db +198\\.18\\.1\\.2 +hold +db/db-0 +20\\d\\d-.*")),
        list.toString());
    CtlRun release = ctl("release", "198.18.1.2", "--yes");
    assertEquals(0, release.exit(), release.toString());
    assertTrue(release.out().startsWith("ending "), release.toString());
    assertTrue(ctl("list").out().lines().noneMatch(l -> l.contains(" hold ")));
  }

  private static Pool subPool() {
    return subPool(CONF);
  }

  /** The sub-pool of a conflist's network, as the plugin and jipamctl define it. */
  private static Pool subPool(String conflist) {
    String single = conflist.replace("\"plugins\":[{\"type\":\"bridge\",", "\"type\":\"bridge\",").replace("}}]}", "}}");
    return NetworkConfig.from(JsonReader.parse(single.getBytes(StandardCharsets.UTF_8))).ipam().subPools().get(0).pool();
  }
}
