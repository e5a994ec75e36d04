package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.cni.CniEnvironment;
import io.jipam.core.cni.CniHandler;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.KeptPools;
import io.jipam.core.testing.TestPools;
import io.jipam.testkit.Etcd;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A network's config changed while a pool held addresses (a sub-pool renamed, a sub-pool removed
 * with its ranges moved to the network's own, the network's own ranges moved into a sub-pool),
 * through the CNI handler on the etcd store ({@code KeptPools}): with the new config a repeated ADD
 * of an old pod returns what it holds, a new pod gets another address, CHECK finds an old pod, DEL
 * and GC release old pods in the pool the old config named; on a warm store, on a store per call
 * (as the plugin opens one), and on a node's store over a shared client (a central jipamd's). And
 * what it costs: nothing on a network whose pools did not change. {@link EtcdInvariants} after each
 * test.
 */
@ExtendWith(EtcdExtension.class)
class EtcdKeptPoolsIT {
  private final PrefixedStores stores;

  EtcdKeptPoolsIT(Etcd etcd) {
    this.stores = new PrefixedStores(etcd);
  }

  @AfterEach
  void closeAll() throws Exception {
    stores.close();
  }

  private EtcdStoreConfig config(String node) {
    return stores.config(node);
  }

  private EtcdStore store(String node) {
    return stores.open(config(node));
  }

  /** How a test's CNI calls reach etcd: the store each call runs on, closed after it when the call opened it. */
  private interface Calls {
    IpamStore open();

    default void done(IpamStore store) {
    }
  }

  private Calls calls(String kind) {
    return switch (kind) {
      case "warm store" -> {
        EtcdStore s = store("node-1");
        yield () -> s;
      }
      case "store per call" -> new Calls() {
        @Override
        public IpamStore open() {
          return EtcdStores.open(config("node-1"));
        }

        @Override
        public void done(IpamStore store) {
          store.close();
        }
      };
      case "node store of a shared client" -> {
        EtcdNodeStores shared = stores.keep(EtcdStores.openShared(config("central")));
        EtcdStore s = shared.forNode("node-1");
        yield () -> s;
      }
      default -> throw new IllegalArgumentException(kind);
    };
  }

  static String conf(String ipam, String extra) {
    return ("{'cniVersion':'1.1.0','name':'net'" + extra + ",'ipam':{'type':'jipam'," + ipam + "}}").replace('\'', '"');
  }

  static final String OWN = "'ranges':[[{'subnet':'10.0.2.0/29'}]]";
  static final String DB = "'subPools':[{'name':'db','ranges':[[{'subnet':'10.0.2.0/29'}]]}]";
  static final String DATABASE = "'subPools':[{'name':'database','ranges':[[{'subnet':'10.0.2.0/29'}]]}]";

  static Stream<Arguments> changes() {
    List<Arguments> out = new ArrayList<>();
    record Change(String name, String before, String after, String oldPool) {}
    for (Change c : List.of(new Change("sub-pool renamed", DB, DATABASE, "net+db"),
        new Change("sub-pool removed, its ranges the network's own", DB, OWN, "net+db"),
        new Change("the network's own ranges moved into a sub-pool", OWN, DB, "net"))) {
      for (String kind : List.of("warm store", "store per call", "node store of a shared client")) {
        out.add(Arguments.of(c.name() + ", " + kind, kind, c.before(), c.after(), c.oldPool()));
      }
    }
    return out.stream();
  }

  private static NetworkConfig parse(String json) {
    return NetworkConfig.from(JsonReader.parse(json.getBytes(StandardCharsets.UTF_8)));
  }

  private static CniEnvironment env(String command, String container, String args) {
    Map<String, String> env = new TreeMap<>(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", container, "CNI_NETNS",
        "/var/run/netns/" + container, "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin"));
    if (args != null) {
      env.put("CNI_ARGS", args);
    }
    return CniEnvironment.from(env);
  }

  private static String run(Calls calls, String command, String container, String json) {
    return run(calls, command, container, json, null);
  }

  private static String run(Calls calls, String command, String container, String json, String args) {
    IpamStore store = calls.open();
    try {
      return new String(CniHandler.run(env(command, container, args), parse(json), store, () -> "node-1").output(),
          StandardCharsets.UTF_8);
    } finally {
      calls.done(store);
    }
  }

  /** What the pool holds, "address container" in address order, read by a store of its own. */
  private List<String> held(EtcdStore inspector, String pool) {
    Pool like = parse(conf(OWN, "")).ipam().pool();
    List<String> out = new ArrayList<>();
    for (Allocation a : inspector.list(new Pool(pool, like.rangeSets(), like.order()))) {
      out.add(a.address() + " " + a.attachment().containerId());
    }
    return out;
  }

  private static String address(String heldLine) {
    return heldLine.substring(0, heldLine.indexOf(' '));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("changes")
  void configChanged_oldPodsFoundAndReleasedInTheOldPool(String name, String kind, String before, String after,
      String oldPool) {
    Calls calls = calls(kind);
    EtcdStore inspector = store("inspector");
    String v1 = conf(before, "");
    String v2 = conf(after, "");
    for (String c : List.of("a", "b", "c")) {
      run(calls, "ADD", c, v1);
    }
    List<String> old = held(inspector, oldPool);
    assertEquals(List.of("a", "b", "c"), old.stream().map(l -> l.substring(l.indexOf(' ') + 1)).sorted().toList(), 
        oldPool + " holds " + old);
    String a = old.stream().filter(l -> l.endsWith(" a")).map(EtcdKeptPoolsIT::address).findFirst().orElseThrow();
    String b = old.stream().filter(l -> l.endsWith(" b")).map(EtcdKeptPoolsIT::address).findFirst().orElseThrow();

    String again = run(calls, "ADD", "a", v2);
    assertTrue(again.contains("\"" + a + "/29\""), "a repeated ADD returns what a holds (" + a + "): " + again);
    String fresh = run(calls, "ADD", "n", v2);
    for (String line : old) {
      assertFalse(fresh.contains("\"" + address(line) + "/29\""), "a new pod got " + line + ": " + fresh);
    }
    IpamException taken = assertThrows(IpamException.class,
        () -> run(calls, "ADD", "m", v2, "IgnoreUnknown=1;IP=" + b));
    assertEquals(ErrorCode.ADDRESS_UNAVAILABLE, taken.code());
    assertTrue(taken.getMessage().contains("in pool " + oldPool + " of network net"), taken.getMessage());

    run(calls, "CHECK", "b", v2);
    run(calls, "DEL", "a", v2);
    assertEquals(2, held(inspector, oldPool).size(), "DEL released a: " + held(inspector, oldPool));
    run(calls, "GC", "x", conf(after, ",'cni.dev/valid-attachments':[{'containerID':'b','ifname':'eth0'},"
        + "{'containerID':'n','ifname':'eth0'}]"));
    assertEquals(List.of(b + " b"), held(inspector, oldPool), "DEL released a, GC released c");
    IpamException gone = assertThrows(IpamException.class, () -> run(calls, "CHECK", "c", v2));
    assertEquals(ErrorCode.UNKNOWN_CONTAINER, gone.code());
  }

  /**
   * The store names the network's pools the config does not, with their stored ranges: pools of
   * other networks never, and nothing for a network whose config names all of its pools.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"warm store", "store per call", "node store of a shared client"})
  void keptPools_poolsOfTheNetworkTheConfigDoesNotName_withTheirStoredRanges(String kind) {
    Calls calls = calls(kind);
    run(calls, "ADD", "a", conf(DB, ""));
    run(calls, "ADD", "b", conf(OWN, ""));
    run(calls, "ADD", "o", conf(OWN, "").replace("\"name\":\"net\"", "\"name\":\"netz\""));
    Pool database = parse(conf(DATABASE, "")).ipam().pools().all().get(0);
    IpamStore store = calls.open();
    try {
      KeptPools kept = store.capability(KeptPools.class).orElseThrow();
      List<Pool> got = kept.keptPools("net", Set.of("net+database"), database);
      assertEquals(List.of("net", "net+db"), got.stream().map(Pool::name).toList());
      for (Pool p : got) {
        assertEquals(BlockLayout.rangesText(database), BlockLayout.rangesText(p), p.name());
      }
      assertEquals(List.of(), kept.keptPools("net", Set.of("net", "net+db"), database));
      assertEquals(List.of(), kept.keptPools("other", Set.of("other"), database));
    } finally {
      calls.done(store);
    }
  }

  /**
   * A network's pool definitions, as a node jipamd's kept pools read them (the central's ListPools
   * of one network): its own pool and its sub-pools with their stored ranges, none of a network
   * whose name begins with its name; read in one request that returns and scans the network's
   * definitions and no other key.
   */
  @org.junit.jupiter.api.Test
  void definedPoolsOfANetwork_networksSharingAPrefix_theNetworksPoolsOnlyReadingTheirKeysOnly() {
    EtcdStore definer = store("node-1");
    List<String> names = List.of("net", "net+a", "net+b", "net2", "net2+a", "netz+a", "ne");
    for (int i = 0; i < names.size(); i++) {
      definer.allocate(TestPools.pool(names.get(i), AllocationOrder.LOWEST_FREE, "10.0." + (10 + i) + ".0/29"),
          EtcdNetworkPoolsIT.add("c"));
    }
    EtcdStore reader = store("reader");
    List<Pool> all = reader.definedPools();
    ReadTally tally = ((GroupCommitStore) reader).etcd().tally();
    record Row(String network, List<String> want) {}
    for (Row row : List.of(new Row("net", List.of("net", "net+a", "net+b")),
        new Row("net2", List.of("net2", "net2+a")), new Row("netz", List.of("netz+a")), new Row("ne", List.of("ne")),
        new Row("absent", List.of()))) {
      long requests = tally.requests();
      long scanned = tally.keysScanned();
      long read = tally.keysRead();
      List<Pool> got = reader.definedPools(row.network());
      assertEquals(row.want(), got.stream().map(Pool::name).toList(), row.toString());
      assertEquals(all.stream().filter(p -> row.want().contains(p.name())).toList(), got,
          row + ": as every definition's read has them (stored ranges, round-robin)");
      assertEquals(1, tally.requests() - requests, row + ": one request");
      assertEquals(row.want().size(), tally.keysScanned() - scanned, row + ": keys scanned");
      assertEquals(row.want().size(), tally.keysRead() - read, row + ": keys read");
    }
    long requests = tally.requests();
    IpamException e = assertThrows(IpamException.class, () -> reader.definedPools("net+a"));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains("invalid network name \"net+a\""), e.getMessage());
    assertEquals(requests, tally.requests(), "a sub-pool's name is no network: nothing read");
  }

  /**
   * The staleness bound: a pool of the network another store defined after this warm store read
   * the network is not kept yet (a DEL with a config not naming it does not look there), and is
   * from the store's next ADD in the network on (its transaction, guarded on the network key,
   * fails and the network is read again).
   */
  @org.junit.jupiter.api.Test
  void keptPools_poolDefinedByAnotherStoreAfterTheRead_keptFromTheNextAdd() {
    EtcdStore inspector = store("inspector");
    EtcdStore warmStore = store("node-1");
    Calls warm = () -> warmStore;
    run(warm, "ADD", "w-0", conf(OWN, ""));
    EtcdStore other = store("node-1");
    run(() -> other, "ADD", "x", conf(DB, ""));

    run(warm, "DEL", "x", conf(OWN, ""));
    assertEquals(1, held(inspector, "net+db").size(), "not kept yet: " + held(inspector, "net+db"));
    run(warm, "ADD", "w-1", conf(OWN, ""));
    run(warm, "DEL", "x", conf(OWN, ""));
    assertEquals(List.of(), held(inspector, "net+db"), "kept after the ADD");
  }

  /**
   * What it costs on a network with one pool, whose config never changed: a warm store's ADD and
   * DEL through the handler are one transaction each, as the store's own allocate and release;
   * a fresh store's (the plugin's one call) send as many requests as its allocate and release do
   * (the read of the network rides on the definition's check it replaces).
   */
  @org.junit.jupiter.api.Test
  void cniCalls_onePoolNetwork_noRequestOfTheirOwn() {
    String v = conf(OWN, "");
    EtcdStore warm = store("node-1");
    Calls onWarm = () -> warm;
    run(onWarm, "ADD", "warm-0", v);
    run(onWarm, "DEL", "warm-0", v);
    long before = EtcdNetworkPoolsIT.requests(warm);
    for (int i = 1; i <= 5; i++) {
      run(onWarm, "ADD", "warm-" + i, v);
    }
    assertEquals(5, EtcdNetworkPoolsIT.requests(warm) - before, "one transaction per ADD");
    before = EtcdNetworkPoolsIT.requests(warm);
    for (int i = 1; i <= 5; i++) {
      run(onWarm, "DEL", "warm-" + i, v);
    }
    assertEquals(5, EtcdNetworkPoolsIT.requests(warm) - before, "one transaction per DEL");

    // a fresh store per call: through the handler, and the store's own calls, each on a network
    // of its own (defined beforehand, as "net" is), so that neither meets the other's blocks
    String viaHandler = v.replace("\"name\":\"net\"", "\"name\":\"net-h\"");
    String viaStore = v.replace("\"name\":\"net\"", "\"name\":\"net-d\"");
    for (String defined : List.of(viaHandler, viaStore)) {
      run(onWarm, "ADD", "define", defined);
      run(onWarm, "DEL", "define", defined);
    }
    Pool storePool = parse(viaStore).ipam().pool();
    // the fewest of three measurements each: a transaction refused by its guard, or a request
    // repeated after a slow answer, adds reads that are etcd's or the machine's, not the
    // handler's (one CI run counted 9 for the store's own DEL against 5 through the handler)
    long[] handler = {Long.MAX_VALUE, Long.MAX_VALUE};
    long[] direct = {Long.MAX_VALUE, Long.MAX_VALUE};
    for (int attempt = 0; attempt < 3; attempt++) {
      for (int i = 0; i < 2; i++) {
        String command = i == 0 ? "ADD" : "DEL";
        EtcdStore fresh = store("node-1");
        run(() -> fresh, command, "fresh-h", viaHandler);
        handler[i] = Math.min(handler[i], EtcdNetworkPoolsIT.requests(fresh));
        EtcdStore own = store("node-1");
        if (i == 0) {
          own.allocate(storePool, EtcdNetworkPoolsIT.add("fresh-d"));
        } else {
          own.release(storePool, new Attachment("fresh-d", "eth0"));
        }
        direct[i] = Math.min(direct[i], EtcdNetworkPoolsIT.requests(own));
      }
    }
    assertEquals(direct[0], handler[0], "a fresh store's ADD through the handler");
    assertEquals(direct[1], handler[1], "a fresh store's DEL through the handler");
  }
}
