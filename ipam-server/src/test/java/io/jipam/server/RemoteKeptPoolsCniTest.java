package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.cni.CniEnvironment;
import io.jipam.core.cni.CniHandler;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.server.metrics.CallLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A node jipamd's CNI handler on the remote store, after its network's sub-pool was renamed: the
 * old pool, which the central jipamd defines and the new config no longer names, is still looked
 * in (the remote store's kept pools, from the central's ListPools), so a repeated ADD of an old pod
 * returns its address, CHECK finds it, and DEL and GC with the new config release there.
 */
@Timeout(60)
class RemoteKeptPoolsCniTest {
  @TempDir Path dir;

  static String conf(String sub, String extra) {
    return ("{'cniVersion':'1.1.0','name':'net'" + extra + ",'ipam':{'type':'jipam','subPools':[{'name':'" + sub
        + "','ranges':[[{'subnet':'10.0.2.0/29'}]]}]}}").replace('\'', '"');
  }

  private static NetworkConfig config(String json) {
    return NetworkConfig.from(JsonReader.parse(json.getBytes(StandardCharsets.UTF_8)));
  }

  private static String run(IpamStore store, String command, String container, String json) {
    CniEnvironment env = CniEnvironment.from(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", container,
        "CNI_NETNS", "/var/run/netns/" + container, "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin"));
    return new String(CniHandler.run(env, config(json), store, () -> "node-1").output(), StandardCharsets.UTF_8);
  }

  private static List<String> held(IpamStore store) {
    Pool old = config(conf("db", "")).ipam().subPools().get(0).pool();
    List<String> out = new ArrayList<>();
    for (Allocation a : store.list(old)) {
      out.add(a.address() + " " + a.attachment().containerId());
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "file"})
  void cniCalls_subPoolRenamedBehindCentralJipamd_oldPodsFoundAndReleased(String centralStore) {
    Path socket = dir.resolve("central.sock");
    IpamStore behind = centralStore.equals("memory") ? MemoryStores.open() : HostLocalStores.openWriteThrough(
        dir.resolve("data"), io.jipam.hostlocal.FileSync.NONE);
    try (IpamServer server = IpamServer.start(behind, IpamServer.Settings.unix(socket), CallLog.quiet());
        RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      String v1 = conf("db", "");
      String v2 = conf("database", "");
      for (String c : List.of("a", "b", "c")) {
        run(remote, "ADD", c, v1);
      }
      assertEquals(List.of("10.0.2.2 a", "10.0.2.3 b", "10.0.2.4 c"), held(remote));
      assertTrue(run(remote, "ADD", "a", v2).contains("10.0.2.2/29"), "a repeated ADD returns what it holds");
      assertTrue(run(remote, "ADD", "n", v2).contains("10.0.2.5/29"), "a new pod passes over the old pool's");
      run(remote, "CHECK", "b", v2);
      run(remote, "DEL", "a", v2);
      run(remote, "GC", "x", conf("database", ",'cni.dev/valid-attachments':[{'containerID':'b','ifname':'eth0'},"
          + "{'containerID':'n','ifname':'eth0'}]"));
      assertEquals(List.of("10.0.2.3 b"), held(remote), "DEL released a, GC released c");
    }
  }
}
