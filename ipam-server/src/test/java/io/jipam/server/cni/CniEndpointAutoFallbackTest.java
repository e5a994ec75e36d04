package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.hostlocal.FileSync;
import io.jipam.hostlocal.HostLocalStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An ADD on jipamd's socket whose config says {@code "daemon": "auto"} runs, while the socket is
 * missing, on its own store: one naming another store than jipamd's is refused (code 7, naming
 * both), writing nothing (helper review: three ADDs so handed out an address another pod held).
 * Taken: jipamd's own data dir (also through a link), one jipamd cannot see, any config with an
 * explicit daemon socket, and a DEL whatever it names.
 */
class CniEndpointAutoFallbackTest {
  @TempDir Path root;

  static String conf(String daemon, String store) {
    return "{'cniVersion':'1.1.0','name':'dd','ipam':{'type':'jipam','subnet':'198.19.102.0/24'"
        + (daemon == null ? "" : ",'daemon':" + daemon) + (store == null ? "" : "," + store) + "}}";
  }

  static CniEndpoint endpoint(IpamStore store) {
    return new CniEndpoint(store, new PoolRegistry(), Runnable::run, CallLog.quiet(), new Metrics(),
        Duration.ofSeconds(30), "node-1");
  }

  record Row(String name, String daemon, String store, boolean taken, String says) {}

  @Test
  void add_autoConfigNamingAnotherStore_refusedNamingBothNothingWritten() throws Exception {
    Path jipamds = Files.createDirectories(root.resolve("jipamd-data"));
    Path other = Files.createDirectories(root.resolve("other-data"));
    Path link = Files.createSymbolicLink(root.resolve("link-to-jipamd-data"), jipamds);
    String auto = "'auto'";
    List<Row> rows = List.of(
        new Row("another data dir", auto, "'dataDir':'" + other + "'", false,
            "it names ipam.dataDir \"" + other + "\", not this jipamd's data dir \"" + jipamds + "\"; set dataDir to it"),
        new Row("etcd", auto, "'store':{'type':'etcd','endpoints':['http://127.0.0.1:1']}", false,
            "it names ipam.store \"etcd\", while this jipamd keeps its addresses in the data dir \"" + jipamds + "\""),
        new Row("jipamd's own data dir", auto, "'dataDir':'" + jipamds + "'", true, null),
        new Row("jipamd's data dir through a link", auto, "'dataDir':'" + link + "'", true, null),
        new Row("a dir jipamd cannot see", auto, "'dataDir':'" + root.resolve("not-here") + "'", true, null),
        new Row("an explicit socket: the config never runs on its own store", "{'socket':'/run/x.sock'}",
            "'dataDir':'" + other + "'", true, null));
    try (IpamStore store = HostLocalStores.openWriteThrough(jipamds, FileSync.NONE)) {
      CniEndpoint cni = endpoint(store);
      for (int i = 0; i < rows.size(); i++) {
        Row row = rows.get(i);
        CniEndpoint.Reply r = cni.run(CniEndpointDefinitionsTest.body("ADD", "c" + i, conf(row.daemon(), row.store())));
        String text = CniEndpointDefinitionsTest.text(r);
        assertEquals(row.taken() ? 0 : 1, r.exit(), row.name() + ": " + text);
        if (!row.taken()) {
          assertTrue(text.contains("\"code\": 7") && text.contains(row.says().replace("\"", "\\\"")), row.name() + ": " + text);
        }
      }
      List<String> taken = new java.util.ArrayList<>();
      for (int i = 0; i < rows.size(); i++) {
        if (rows.get(i).taken()) {
          taken.add("c" + i);
        }
      }
      assertEquals(taken, store.list(io.jipam.core.cni.NetworkConfig.from(
          io.jipam.core.cni.JsonReader.parse(conf(null, null).replace('\'', '"').getBytes())).ipam().pool()).stream()
          .map(a -> a.attachment().containerId()).sorted().toList(), "the refused ADDs wrote nothing");
      CniEndpoint.Reply del = cni.run(CniEndpointDefinitionsTest.body("DEL", taken.get(0), conf(auto, "'dataDir':'" + other + "'")));
      assertEquals(0, del.exit(), "a DEL is served whatever it names: " + CniEndpointDefinitionsTest.text(del));
    }
    CniEndpoint.Reply memory = endpoint(MemoryStores.open()).run(CniEndpointDefinitionsTest.body("ADD", "m", conf(auto, null)));
    assertEquals(1, memory.exit(), "a jipamd without a data dir refuses an auto config on host-local's files");
    assertFalse(Files.exists(other.resolve("dd")), "nothing in the other dir");
  }
}
