package io.jipam.server.pools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.cni.NetworkPools;
import io.jipam.core.cni.SubPool;
import io.jipam.core.store.Pool;
import io.jipam.server.metrics.CallLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registry's sub-pools: known from a CNI call's network, replaced and forgotten with it, kept in the file at allocation. */
class PoolRegistrySubPoolsTest {
  @TempDir Path dir;

  static NetworkPools network(String subPools) {
    String json = ("{'cniVersion':'1.1.0','name':'net','ipam':{'type':'jipam','ranges':[[{'subnet':'198.18.0.0/28'}]],"
        + "'subPools':" + subPools + "}}").replace('\'', '"');
    return NetworkConfig.from(JsonReader.parse(json.getBytes(StandardCharsets.UTF_8))).ipam().pools();
  }

  static final String TWO = "[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['db']},"
      + "{'name':'web','ranges':[[{'subnet':'198.18.2.0/28'}]],'nodes':['edge-*']}]";

  @Test
  void defined_selectorsChangeAndASubPoolGoes_lastDefinitionWins() {
    PoolRegistry r = new PoolRegistry();
    r.defined(network(TWO));
    assertEquals("namespaces=db", r.subPool("net+db").selectors());
    NetworkPools changed = network("[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['data']}]");
    r.defined(changed);
    assertEquals(changed.subPools().get(0), r.subPool("net+db"));
    assertNull(r.subPool("net+web"), "a sub-pool the network no longer has is forgotten");
    assertNull(r.subPool("net"), "the default pool is no sub-pool");
  }

  @Test
  void allocatedFrom_persistentRegistry_keepsTheSubPoolAcrossARestart_readsWriteNothing() throws Exception {
    Path file = dir.resolve(".jipamd-pools");
    PoolRegistry r = PoolRegistry.persistent(file, CallLog.quiet());
    NetworkPools net = network(TWO);
    net.all().forEach(p -> PoolRegistryBoundsTest.define(r, p));
    r.defined(net);
    assertFalse(Files.exists(file), "knowing a network writes nothing");
    Pool db = net.subPools().get(0).pool();
    r.allocatedFrom(db);
    PoolRegistry again = PoolRegistry.persistent(file, CallLog.quiet());
    SubPool kept = again.subPool("net+db");
    assertEquals(net.subPools().get(0), kept);
    assertNull(again.subPool("net+web"), "only pools allocated from are kept");
    assertEquals(db, again.all().stream().filter(p -> p.name().equals("net+db")).findFirst().orElseThrow());
  }
}
