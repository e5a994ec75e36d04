package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.cni.CniEnvironment;
import io.jipam.core.cni.CniHandler;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A network's config changed while a pool held addresses (a sub-pool renamed, a sub-pool removed
 * with its ranges moved to the network's own, the network's own ranges moved into a sub-pool),
 * through the CNI handler on each store that keeps its pools ({@code KeptPools}): a new ADD never
 * gets a held address, and DEL, CHECK, GC and a repeated ADD with the new config still find the
 * old pods' addresses in the pool the old config named.
 */
class SubPoolRenameCniTest {
  @TempDir Path dataDir;

  static String conf(String ipam, String extra) {
    return ("{'cniVersion':'1.1.0','name':'net'" + extra + ",'ipam':{'type':'jipam'," + ipam + "}}").replace('\'', '"');
  }

  static final String OWN = "'ranges':[[{'subnet':'10.0.2.0/29'}]]";
  static final String DB = "'subPools':[{'name':'db','ranges':[[{'subnet':'10.0.2.0/29'}]]}]";
  static final String DATABASE = "'subPools':[{'name':'database','ranges':[[{'subnet':'10.0.2.0/29'}]]}]";

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    Map<String, Function<Path, IpamStore>> stores = Map.of(
        "memory", d -> MemoryStores.open(),
        "file", d -> HostLocalStores.open(d),
        "file written through", d -> HostLocalStores.openWriteThrough(d, FileSync.NONE));
    record Change(String name, String before, String after, String oldPool) {}
    for (Change c : List.of(new Change("sub-pool renamed", DB, DATABASE, "net+db"),
        new Change("sub-pool removed, its ranges the network's own", DB, OWN, "net+db"),
        new Change("the network's own ranges moved into a sub-pool", OWN, DB, "net"))) {
      stores.forEach((store, open) -> out.add(Arguments.of(c.name() + ", " + store, open, c.before(), c.after(), c.oldPool())));
    }
    return out.stream();
  }

  private static NetworkConfig config(String json) {
    return NetworkConfig.from(JsonReader.parse(json.getBytes(StandardCharsets.UTF_8)));
  }

  private static CniEnvironment env(String command, String container) {
    return CniEnvironment.from(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", container, "CNI_NETNS",
        "/var/run/netns/" + container, "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin"));
  }

  private static String run(IpamStore store, String command, String container, String json) {
    return new String(CniHandler.run(env(command, container), config(json), store, () -> "node-1").output(),
        StandardCharsets.UTF_8);
  }

  private static List<String> held(IpamStore store, String pool) {
    List<String> out = new ArrayList<>();
    for (Allocation a : store.list(new Pool(pool, config(conf(OWN, "")).ipam().pool().rangeSets(),
        config(conf(OWN, "")).ipam().pool().order()))) {
      out.add(a.address() + " " + a.attachment().containerId());
    }
    return out;
  }

  static Stream<Arguments> fileStores() {
    return Stream.of(Arguments.of("file", (Function<Path, IpamStore>) HostLocalStores::open),
        Arguments.of("file written through", (Function<Path, IpamStore>) d -> HostLocalStores.openWriteThrough(d, FileSync.NONE)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fileStores")
  void everyCommand_dataDirNotMadeYet_askingForKeptPoolsFindsNone(String name, Function<Path, IpamStore> open) {
    try (IpamStore store = open.apply(dataDir.resolve("not-yet"))) {
      assertEquals("", run(store, "DEL", "a", conf(DB, "")));
    }
    try (IpamStore store = open.apply(dataDir.resolve("not-yet-either"))) {
      assertTrue(run(store, "ADD", "a", conf(DB, "")).contains("10.0.2.2/29"));
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void configChanged_oldPodsFoundAndReleasedNewOnesNeverOnTheirAddresses(String name, Function<Path, IpamStore> open,
      String before, String after, String oldPool) {
    String v1 = conf(before, "");
    String v2 = conf(after, "");
    try (IpamStore store = open.apply(dataDir)) {
      for (String c : List.of("a", "b", "c")) {
        run(store, "ADD", c, v1);
      }
      assertEquals(List.of("10.0.2.2 a", "10.0.2.3 b", "10.0.2.4 c"), held(store, oldPool));

      assertTrue(run(store, "ADD", "a", v2).contains("10.0.2.2/29"), "a repeated ADD returns what it holds");
      assertTrue(run(store, "ADD", "n", v2).contains("10.0.2.5/29"), "a new pod passes over the old pool's");
      IpamException taken = assertThrows(IpamException.class, () -> CniHandler.run(
          CniEnvironment.from(Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "m", "CNI_NETNS", "/x", "CNI_IFNAME",
              "eth0", "CNI_PATH", "/opt/cni/bin", "CNI_ARGS", "IgnoreUnknown=1;IP=10.0.2.3")),
          config(v2), store, () -> "node-1"));
      assertEquals(ErrorCode.ADDRESS_UNAVAILABLE, taken.code());
      assertTrue(taken.getMessage().contains("in pool " + oldPool + " of network net"), taken.getMessage());

      run(store, "CHECK", "b", v2);
      run(store, "DEL", "a", v2);
      run(store, "GC", "x", conf(after, ",'cni.dev/valid-attachments':[{'containerID':'b','ifname':'eth0'},"
          + "{'containerID':'n','ifname':'eth0'}]"));
      assertEquals(List.of("10.0.2.3 b"), held(store, oldPool), "DEL released a, GC released c");
    }
  }
}
