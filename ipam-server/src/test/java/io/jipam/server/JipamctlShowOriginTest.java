package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.capability.ReserveOutcome;
import io.jipam.hostlocal.HostLocalStores;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code jipamctl show ADDRESS} says why the address was given (the origin its store recorded), in
 * text and JSON, on a data dir directly and through a jipamd over it (the origin on the wire).
 */
@Timeout(60)
class JipamctlShowOriginTest {
  static final String CONF = ("{'cniVersion':'1.1.0','name':'net','plugins':[{'type':'bridge','ipam':{'type':'jipam',"
      + "'ranges':[[{'subnet':'198.18.0.0/28'}]],'sticky':{'pods':['db/*'],'holdSeconds':900,'maxHeldPercent':100},"
      + "'subPools':[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]],'namespaces':['db']}]}}]}").replace('\'', '"');

  @TempDir Path dir;
  Path conf;
  Pool net;
  Pool db;

  @BeforeEach
  void write() throws Exception {
    conf = Files.writeString(dir.resolve("net.conflist"), CONF);
    Files.createDirectories(dir.resolve("data"));
    String single = CONF.replace("\"plugins\":[{\"type\":\"bridge\",", "\"type\":\"bridge\",").replace("}}]}", "}}");
    NetworkConfig config = NetworkConfig.from(JsonReader.parse(single.getBytes(StandardCharsets.UTF_8)));
    net = config.ipam().pool();
    db = config.ipam().subPools().get(0).pool();
  }

  static AllocationOutcome.Allocated add(IpamStore store, Pool pool, String id, PodRef pod, String... ips) {
    AllocationOutcome out = store.allocate(pool, new AllocationRequest(new Attachment(id, "eth0"),
        java.util.Arrays.stream(ips).map(IpAddress::parse).toList(), pod));
    return assertInstanceOf(AllocationOutcome.Allocated.class, out, out::toString);
  }

  /** A sticky address given back (db sub-pool), a reserved one, a requested one and a free one. */
  void allocateOneOfEach() {
    try (IpamStore store = HostLocalStores.open(dir.resolve("data"))) {
      PodRef db0 = new PodRef("db", "db-0");
      add(store, db, "c1", db0);
      store.release(db, new Attachment("c1", "eth0"));
      assertEquals("198.18.1.2", add(store, db, "c2", db0).allocations().get(0).address().toString());
      add(store, db, "c2", db0); // a repeated ADD keeps "sticky"
      assertInstanceOf(ReserveOutcome.Reserved.class, store.capability(Claims.class).orElseThrow()
          .reserve(db, IpAddress.parse("198.18.1.9"), new PodRef("db", "db-1"), false));
      add(store, db, "c3", new PodRef("db", "db-1"));
      assertEquals("198.18.0.2", add(store, net, "c5", new PodRef("web", "w-1")).allocations().get(0).address()
          .toString());
      add(store, net, "c4", new PodRef("web", "w-0"), "198.18.0.9");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"direct", "jipamd"})
  void show_addressOfEachOrigin_printsWhyInTextAndJson(String via) {
    allocateOneOfEach();
    String[] where = {"--data-dir", dir.resolve("data").toString(), "--conf", conf.toString()};
    try (JipamdOverDataDir jipamd = via.equals("jipamd") ? new JipamdOverDataDir(dir, dir.resolve("data"), db, net) : null) {
      if (jipamd != null) {
        where = jipamd.ctlArgs();
      }
      record Row(String address, String pool, String holder, String pod, String why) {}
      for (Row row : List.of(new Row("198.18.1.2", "net+db", "c2/eth0", "db/db-0", "sticky"),
          new Row("198.18.1.9", "net+db", "c3/eth0", "db/db-1", "reserved"),
          new Row("198.18.0.9", "net", "c4/eth0", "web/w-0", "requested"),
          new Row("198.18.0.2", "net", "c5/eth0", "web/w-1", "free"))) {
        CtlRun text = CtlRun.of(args(where, "show", row.address()));
        assertEquals(0, text.exit(), text.toString());
        List<String> lines = text.out().lines().toList();
        String line = String.format("%-16s %-39s %-40s %-24s %s", row.pool(), row.address(), row.holder(), row.pod(), "-")
            + "  why: " + row.why();
        assertEquals(line, lines.get(0), text.toString());
        CtlRun json = CtlRun.of(args(where, "show", row.address(), "-o", "json"));
        assertEquals(0, json.exit(), json.toString());
        JsonObject shown = new JsonArray(json.out()).getJsonObject(0);
        assertEquals(row.why(), shown.getString("origin"), json.toString());
        assertEquals(row.pool(), shown.getString("pool"), json.toString());
      }
      CtlRun list = CtlRun.of(args(where, "list", "-o", "json"));
      assertEquals(List.of("free", "requested", "sticky", "reserved"), new JsonArray(list.out()).stream()
          .map(o -> ((JsonObject) o).getString("origin")).toList(), list.toString());
    }
  }

  static String[] args(String[] where, String... args) {
    String[] all = new String[args.length + where.length];
    System.arraycopy(args, 0, all, 0, args.length);
    System.arraycopy(where, 0, all, args.length, where.length);
    return all;
  }
}
