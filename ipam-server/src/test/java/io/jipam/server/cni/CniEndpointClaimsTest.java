package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.TestClock;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * jipamd's CNI endpoint with sub-pools and a sticky, cooling pool: the call's summary (what the call
 * log prints after {@code method=CNI/}) names the pool (sub-pool) and why each address was chosen, and the metrics count claims, origins and refused
 * holds. On the memory store with a test clock.
 */
class CniEndpointClaimsTest {
  /** A pool of five addresses, holds for db/* bounded to one (20 %), a cool-down of 60 s; a sub-pool for namespace web on nodes edge-*. */
  static final String CONF = ("{'cniVersion':'1.1.0','name':'metricsnet','ipam':{'type':'jipam','order':'lowest-free',"
      + "'ranges':[[{'subnet':'198.18.0.0/29'}]],'sticky':{'pods':['db/*'],'holdSeconds':600,'maxHeldPercent':20},"
      + "'reuseDelaySeconds':60,'subPools':[{'name':'web','ranges':[[{'subnet':'198.18.1.0/29'}]],"
      + "'namespaces':['web'],'nodes':['edge-*']}]}}").replace('\'', '"');

  final TestClock clock = new TestClock();
  final IpamStore store = MemoryStores.open(clock);
  final ByteArrayOutputStream logged = new ByteArrayOutputStream();
  final Metrics metrics = new Metrics();
  final PoolRegistry pools = new PoolRegistry();

  CniEndpoint endpoint(String node) {
    return new CniEndpoint(store, pools, Runnable::run, new CallLog(new PrintStream(logged, true), true), metrics,
        java.time.Duration.ofSeconds(30), node);
  }

  static byte[] body(String command, String id, String pod) {
    String env = "CNI_COMMAND=" + command + "\nCNI_CONTAINERID=" + id + "\nCNI_NETNS=/var/run/netns/x\nCNI_IFNAME=eth0"
        + "\nCNI_PATH=/opt/cni/bin\nCNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.substring(0, pod.indexOf('/'))
        + ";K8S_POD_NAME=" + pod.substring(pod.indexOf('/') + 1);
    return (env + "\n\n" + CONF).getBytes(StandardCharsets.UTF_8);
  }

  CniEndpoint.Reply call(CniEndpoint cni, String command, String id, String pod) {
    CniEndpoint.Reply r = cni.run(body(command, id, pod));
    assertEquals(0, r.exit(), r.summary() + " " + new String(r.output(), StandardCharsets.UTF_8));
    return r;
  }

  /** The scrape's samples of one metric, by their label text. */
  Map<String, Double> samples(String name) {
    Map<String, Double> out = new TreeMap<>();
    for (String line : metrics.scrape(pools.all(), pools::subPool, store).lines().toList()) {
      if (line.startsWith(name + "{")) {
        int space = line.lastIndexOf(' ');
        out.put(line.substring(name.length(), space), Double.parseDouble(line.substring(space + 1)));
      }
    }
    return out;
  }

  @Test
  void addAfterDel_samePod_callLineSaysStickyAndMetricsCountIt() {
    CniEndpoint cni = endpoint("node-1");
    assertTrue(call(cni, "ADD", "c1", "db/db-0").summary().endsWith(" origin=free outcome=ok"));
    call(cni, "DEL", "c1", "db/db-0"); // a hold for db/db-0
    CniEndpoint.Reply again = call(cni, "ADD", "c2", "db/db-0");
    assertEquals("ADD pool=metricsnet attachment=c2/eth0 origin=sticky outcome=ok", again.summary());
    call(cni, "ADD", "c3", "db/db-1");
    call(cni, "DEL", "c2", "db/db-0"); // the one hold the bound allows
    call(cni, "DEL", "c3", "db/db-1"); // refused at the bound: cools instead
    Map<String, Double> claims = samples("jipamd_pool_claims");
    assertEquals(Map.of("{kind=\"cooling\",pool=\"metricsnet\"}", 1.0, "{kind=\"hold\",pool=\"metricsnet\"}", 1.0,
        "{kind=\"reservation\",pool=\"metricsnet\"}", 0.0), Map.of(
        "{kind=\"cooling\",pool=\"metricsnet\"}", claims.get("{kind=\"cooling\",pool=\"metricsnet\"}"),
        "{kind=\"hold\",pool=\"metricsnet\"}", claims.get("{kind=\"hold\",pool=\"metricsnet\"}"),
        "{kind=\"reservation\",pool=\"metricsnet\"}", claims.get("{kind=\"reservation\",pool=\"metricsnet\"}")));
    assertEquals(0.0, claims.get("{kind=\"hold\",pool=\"metricsnet+web\"}"), "the sub-pool is a pool of its own");
    assertEquals(1.0, samples("jipamd_hold_refusals_total").get("{pool=\"metricsnet\"}"));
    assertEquals(Map.of("{origin=\"free\",pool=\"metricsnet\"}", 2.0, "{origin=\"sticky\",pool=\"metricsnet\"}", 1.0),
        samples("jipamd_allocations_total"));
  }

  @Test
  void add_onlyCoolingLeft_lastResortCountedAsCooled() {
    CniEndpoint cni = endpoint("node-1");
    for (int i = 0; i < 5; i++) {
      call(cni, "ADD", "o" + i, "other/p" + i);
    }
    call(cni, "DEL", "o0", "other/p0");
    CniEndpoint.Reply cooled = call(cni, "ADD", "o5", "other/p5");
    assertTrue(cooled.summary().contains(" origin=cooled "), cooled.summary());
    assertEquals(1.0, samples("jipamd_allocations_total").get("{origin=\"cooled\",pool=\"metricsnet\"}"));
  }

  @Test
  void add_subPoolByNamespaceAndNode_onlyOnAMatchingNode() {
    assertEquals("ADD pool=metricsnet+web attachment=w1/eth0 origin=free outcome=ok",
        call(endpoint("edge-7"), "ADD", "w1", "web/w-0").summary());
    assertEquals("ADD pool=metricsnet attachment=w2/eth0 origin=free outcome=ok",
        call(endpoint("core-1"), "ADD", "w2", "web/w-1").summary());
    assertEquals(List.of("metricsnet", "metricsnet+web"), pools.all().stream().map(p -> p.name()).toList());
    // DEL from any node releases in whichever pool holds it
    call(endpoint("core-1"), "DEL", "w1", "web/w-0");
    assertEquals(0, store.list(pools.all().get(1)).size());
  }

  /**
   * The rules of each pool as gauges: the sticky pool's hold, bound and patterns, every pool's reuse
   * delay, and the sub-pool's network and selectors once a CNI call named its network; a
   * selector with a quote, a backslash and a line break stays one escaped label value.
   */
  @Test
  void scrape_afterACniCall_rulesAndSubPoolSelectorsAsGauges() {
    call(endpoint("node-1"), "ADD", "c1", "db/db-0");
    assertEquals(Map.of("{pool=\"metricsnet\"}", 600.0, "{pool=\"metricsnet+web\"}", 600.0),
        samples("jipamd_pool_hold_seconds"));
    assertEquals(Map.of("{pool=\"metricsnet\"}", 20.0, "{pool=\"metricsnet+web\"}", 20.0),
        samples("jipamd_pool_hold_bound_percent"));
    assertEquals(Map.of("{pool=\"metricsnet\"}", 60.0, "{pool=\"metricsnet+web\"}", 60.0),
        samples("jipamd_pool_reuse_delay_seconds"));
    assertEquals(Map.of("{pods=\"db/*\",pool=\"metricsnet\"}", 1.0, "{pods=\"db/*\",pool=\"metricsnet+web\"}", 1.0),
        samples("jipamd_pool_sticky_info"));
    assertEquals(Map.of("{default_pool=\"metricsnet\",index=\"0\",namespaces=\"web\",network=\"metricsnet\","
        + "nodes=\"edge-*\",pods=\"\",pool=\"metricsnet+web\"}", 1.0), samples("jipamd_subpool_info"));

    io.jipam.core.cni.SubPool known = pools.subPool("metricsnet+web");
    io.jipam.core.cni.SubPool hostile = new io.jipam.core.cni.SubPool(known.name(), known.pool(),
        List.of("a\"b\\c\nd"), List.of(), List.of(), 0, null);
    String text = metrics.scrape(pools.all(), name -> name.equals("metricsnet+web") ? hostile : null, store);
    List<String> lines = text.lines().filter(l -> l.startsWith("jipamd_subpool_info{")).toList();
    assertEquals(List.of("jipamd_subpool_info{default_pool=\"\",index=\"0\",namespaces=\"a\\\"b\\\\\\\\c\\\\x0ad\","
        + "network=\"metricsnet\",nodes=\"\",pods=\"\",pool=\"metricsnet+web\"} 1"), lines, text);
  }
}
