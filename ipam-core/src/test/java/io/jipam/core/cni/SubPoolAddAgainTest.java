package io.jipam.core.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.ForwardingStore;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An ADD repeated after the network's sub-pools changed (a sub-pool added, removed from the pod's
 * reach, or the pod moved to another): the attachment keeps the addresses its first ADD got, in the
 * pool that ADD chose, and holds addresses in one pool of the network only.
 */
class SubPoolAddAgainTest {
  /** Counts the store's find calls, to show what the check costs. */
  private final AtomicInteger finds = new AtomicInteger();
  private final IpamStore store = new ForwardingStore(MemoryStores.open()) {
    @Override
    public List<Allocation> find(Pool pool, Attachment attachment) {
      finds.incrementAndGet();
      return super.find(pool, attachment);
    }
  };

  /** Network {@code net}: {@code ipam} is the inside of its ipam section (single quotes for double). */
  static String conf(String ipam) {
    return ("{'cniVersion':'1.0.0','name':'net','ipam':{'type':'jipam'," + ipam + "}}").replace('\'', '"');
  }

  static final String DEFAULT = "'ranges':[[{'subnet':'10.0.0.0/29'}]]";
  static final String DB = "{'name':'db','ranges':[[{'subnet':'10.0.2.0/29'}]],'namespaces':['db']}";
  static final String DB_DUAL = "{'name':'db','ranges':[[{'subnet':'10.0.2.0/29'}],[{'subnet':'fd00:2::/120'}]],"
      + "'namespaces':['db']}";
  static final String DB_ELSEWHERE = "{'name':'db','ranges':[[{'subnet':'10.0.2.0/29'}]],'namespaces':['other']}";
  static final String DB2 = "{'name':'db2','ranges':[[{'subnet':'10.0.3.0/29'}]],'namespaces':['db']}";

  private static NetworkConfig config(String json) {
    return NetworkConfig.from(JsonReader.parse(json.getBytes(StandardCharsets.UTF_8)));
  }

  private static CniEnvironment env(String command, String args) {
    return CniEnvironment.from(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", "a", "CNI_NETNS", "/var/run/netns/a",
        "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin",
        "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=db;K8S_POD_NAME=db-0" + (args == null ? "" : ";" + args)));
  }

  private CniHandler.Done add(String json, String args) {
    return CniHandler.run(env("ADD", args), config(json), store, () -> "node-1");
  }

  private static List<String> addresses(CniHandler.Done done) {
    Map<String, Object> result = JsonFields.asObject(JsonReader.parse(done.output()), "output");
    List<String> out = new ArrayList<>();
    for (Object ip : JsonFields.list(result, "ips", "output")) {
      out.add((String) JsonFields.asObject(ip, "ip").get("address"));
    }
    return out;
  }

  /** Every allocation in every pool of both configs, as "pool address". */
  private List<String> everywhere(String... jsons) {
    List<String> out = new ArrayList<>();
    List<String> seen = new ArrayList<>();
    for (String json : jsons) {
      for (Pool p : config(json).ipam().pools().all()) {
        if (!seen.contains(p.name())) {
          seen.add(p.name());
          for (Allocation a : store.list(p)) {
            out.add(p.name() + " " + a.address());
          }
        }
      }
    }
    return out;
  }

  /**
   * Table: the config of the first ADD, the config of the repeated one, what both return, the pool
   * the repeat answers from, and the allocations after it (one pool only).
   */
  static Stream<Arguments> changes() {
    return Stream.of(
        Arguments.of("sub-pool added that selects the pod", conf(DEFAULT), conf(DEFAULT + ",'subPools':[" + DB + "]"),
            List.of("10.0.0.2/29"), "net", List.of("net 10.0.0.2")),
        Arguments.of("sub-pool no longer selects the pod", conf(DEFAULT + ",'subPools':[" + DB + "]"),
            conf(DEFAULT + ",'subPools':[" + DB_ELSEWHERE + "]"), List.of("10.0.2.2/29"), "net+db",
            List.of("net+db 10.0.2.2")),
        Arguments.of("pod moved to another sub-pool", conf("'subPools':[" + DB + "]"),
            conf("'subPools':[" + DB2 + "," + DB + "]"), List.of("10.0.2.2/29"), "net+db", List.of("net+db 10.0.2.2")),
        Arguments.of("held addresses cover fewer range sets than the new pool", conf(DEFAULT),
            conf(DEFAULT + ",'subPools':[" + DB_DUAL + "]"), List.of("10.0.0.2/29"), "net", List.of("net 10.0.0.2")),
        Arguments.of("sub-pools unchanged: a repeat in the same pool", conf(DEFAULT + ",'subPools':[" + DB + "]"),
            conf(DEFAULT + ",'subPools':[" + DB + "]"), List.of("10.0.2.2/29"), "net+db", List.of("net+db 10.0.2.2")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("changes")
  void add_repeatedAfterSubPoolsChanged_returnsHeldAddressesAndAllocatesNothing(String name, String before,
      String after, List<String> want, String pool, List<String> held) {
    assertEquals(want, addresses(add(before, null)), "first ADD");
    CniHandler.Done again = add(after, null);
    assertEquals(want, addresses(again), "repeated ADD");
    assertEquals(pool, again.pool().name());
    assertEquals(List.of(AllocationOrigin.EXISTING), again.origins());
    assertEquals(held, everywhere(before, after));
    CniHandler.run(env("CHECK", null), config(after), store, () -> "node-1");
  }

  @Test
  void add_afterDelUnderNewSubPools_allocatesFromTheNewlySelectedPool() {
    String before = conf(DEFAULT);
    String after = conf(DEFAULT + ",'subPools':[" + DB + "]");
    add(before, null);
    assertEquals(List.of("10.0.0.2/29"), addresses(add(after, null)));
    CniHandler.run(env("DEL", null), config(after), store, () -> "node-1");
    assertEquals(List.of("10.0.2.2/29"), addresses(add(after, null)));
    assertEquals(List.of("net+db 10.0.2.2"), everywhere(before, after));
  }

  /** Table: the address a repeated ADD asks for (IP=), and the refusal's words; null: accepted. */
  static Stream<Arguments> requests() {
    return Stream.of(
        Arguments.of("10.0.0.2", null),
        Arguments.of("10.0.2.5", "holds [10.0.0.2] in pool net of network net, which its first ADD chose"),
        Arguments.of("10.0.0.5", "already holds 10.0.0.2"));
  }

  @ParameterizedTest(name = "IP={0}")
  @MethodSource("requests")
  void add_repeatedAfterSubPoolAddedAskingForAnAddress_acceptsOnlyTheHeldOne(String wanted, String refusal) {
    String before = conf(DEFAULT);
    String after = conf(DEFAULT + ",'subPools':[" + DB + "]");
    add(before, null);
    if (refusal == null) {
      assertEquals(List.of("10.0.0.2/29"), addresses(add(after, "IP=" + wanted)));
    } else {
      IpamException e = assertThrows(IpamException.class, () -> add(after, "IP=" + wanted));
      assertEquals(ErrorCode.ADDRESS_UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains(refusal) && e.getMessage().contains(wanted), e.getMessage());
      assertTrue(e.getMessage().contains("an ADD after it allocates from pool net+db"), e.getMessage());
    }
    assertEquals(List.of("net 10.0.0.2"), everywhere(before, after));
  }

  @Test
  void add_networkWithoutSubPools_looksInNoOtherPool() {
    add(conf(DEFAULT), null);
    add(conf(DEFAULT), null);
    assertEquals(0, finds.get(), "an ADD without sub-pools reads nothing beyond its allocate");
    CniHandler.run(env("DEL", null), config(conf(DEFAULT)), store, () -> "node-1");
    assertEquals(List.of("10.0.2.2/29"), addresses(add(conf(DEFAULT + ",'subPools':[" + DB + "," + DB2 + "]"), null)));
    assertEquals(2, finds.get(), "one find per pool other than the selected one (net, net+db2)");
  }
}
