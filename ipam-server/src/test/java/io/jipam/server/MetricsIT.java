package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import io.jipam.testkit.Etcd;
import io.jipam.testkit.JipamdProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code jipamd --metrics}: a child jipamd serves calls, then its /metrics is scraped over HTTP. */
@Timeout(90)
class MetricsIT {
  @TempDir Path dir;

  @Test
  void scrape_afterCalls_countsByMethodOutcomeErrorsLatencyAndPoolUsage() throws Exception {
    Path socket = dir.resolve("j.sock");
    try (JipamdProcess jipamd = ServerJipamd.start(dir, "--socket", socket.toString(), "--store", "memory",
            "--metrics", "127.0.0.1:0");
         RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      String log = Files.readString(jipamd.log());
      int at = log.indexOf("metrics on http://127.0.0.1:");
      assertTrue(at >= 0, log);
      String url = log.substring(at + "metrics on ".length(), log.indexOf('\n', at)).trim();

      Pool pool = IpamServerTest.pool("m", "198.18.40.0/29", "fd00:40::/120"); // v4: .1 gateway, .2-.6
      for (int i = 0; i < 3; i++) {
        assertInstanceOf(AllocationOutcome.Allocated.class,
            remote.allocate(pool, AllocationRequest.of(new Attachment("c" + i, "eth0"))));
      }
      String held = remote.find(pool, new Attachment("c0", "eth0")).get(0).address().toString();
      assertInstanceOf(AllocationOutcome.Taken.class, remote.allocate(pool, new AllocationRequest(
          new Attachment("c9", "eth0"), List.of(io.jipam.core.net.IpAddress.parse(held)), null)));
      remote.release(pool, new Attachment("c2", "eth0"));
      IpamException redefined = assertThrows(IpamException.class, () -> remote.allocate(
          IpamServerTest.pool("m", "198.18.41.0/24"), AllocationRequest.of(new Attachment("x", "eth0"))));
      assertEquals(ErrorCode.INVALID_CONFIG, redefined.code());

      // a CNI call on the socket tells jipamd a network's sub-pools and rules
      IpamServerTest.Reply cni = IpamServerTest.cni(socket, "CNI_COMMAND=ADD\nCNI_CONTAINERID=s1\nCNI_IFNAME=eth0\n"
          + "CNI_NETNS=/var/run/netns/x\nCNI_PATH=/opt/cni/bin\nCNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=db;"
          + "K8S_POD_NAME=db-0\n\n" + ("{'cniVersion':'1.1.0','name':'subs','ipam':{'type':'jipam','ranges':[[{'subnet':"
          + "'198.18.42.0/29'}]],'reuseDelaySeconds':30,'subPools':[{'name':'db','ranges':[[{'subnet':'198.18.43.0/29'}]],"
          + "'namespaces':['db']}]}}").replace('\'', '"'));
      assertEquals(0, cni.exit(), cni.body());

      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
          .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain"), r.headers().toString());
      Map<String, Double> m = samples(r.body());
      assertEquals(1.0, m.get("jipamd_subpool_info{default_pool=\"subs\",index=\"0\",namespaces=\"db\",network=\"subs\","
          + "nodes=\"\",pods=\"\",pool=\"subs+db\"}"), r.body());
      assertEquals(30.0, m.get("jipamd_pool_reuse_delay_seconds{pool=\"subs+db\"}"), r.body());
      assertEquals(0.0, m.get("jipamd_pool_reuse_delay_seconds{pool=\"m\"}"), r.body());

      assertEquals(3.0, m.get("jipamd_calls_total{method=\"Allocate\",outcome=\"allocated\"}"), r.body());
      assertEquals(1.0, m.get("jipamd_calls_total{method=\"Allocate\",outcome=\"taken\"}"), r.body());
      assertEquals(1.0, m.get("jipamd_calls_total{method=\"Allocate\",outcome=\"error\"}"), r.body());
      assertEquals(1.0, m.get("jipamd_calls_total{method=\"Release\",outcome=\"ok\"}"), r.body());
      assertEquals(1.0, m.get("jipamd_errors_total{cni_code=\"7\",code=\"INVALID_CONFIG\",method=\"Allocate\"}"),
          r.body());
      assertEquals(5.0, m.get("jipamd_call_duration_seconds_count{method=\"Allocate\"}"), r.body());
      assertEquals(5.0, m.get("jipamd_call_duration_seconds_bucket{method=\"Allocate\",le=\"+Inf\"}"), r.body());
      assertTrue(r.body().contains("# TYPE jipamd_call_duration_seconds histogram"), r.body());
      assertEquals(2.0, m.get("jipamd_pool_addresses{pool=\"m\",range_set=\"0\",state=\"used\"}"), r.body());
      assertEquals(3.0, m.get("jipamd_pool_addresses{pool=\"m\",range_set=\"0\",state=\"free\"}"), r.body());
      assertEquals(2.0, m.get("jipamd_pool_addresses{pool=\"m\",range_set=\"1\",state=\"used\"}"), r.body());

      HttpResponse<String> other = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create(url.replace("/metrics", "/other"))).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(404, other.statusCode());
    }
  }

  @Test
  void scrape_concurrentAllocationsOnEtcd_commitBatchSizesAddUpToTheChanges() throws Exception {
    Path socket = dir.resolve("e.sock");
    try (Etcd etcd = Etcd.single()) {
      Path config = dir.resolve("etcd.json");
      Files.writeString(config, "{\"endpoints\": [\"" + etcd.endpoint() + "\"], \"node\": \"n1\", \"timeoutMillis\": 10000}");
      try (JipamdProcess jipamd = ServerJipamd.start(dir, "--socket", socket.toString(), "--store", "etcd",
              "--etcd-config", config.toString(), "--metrics", "127.0.0.1:0", "--workers", "16");
           RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket)
               .withTimeout(Duration.ofSeconds(20)))) {
        String log = Files.readString(jipamd.log());
        int at = log.indexOf("metrics on http://127.0.0.1:");
        String url = log.substring(at + "metrics on ".length(), log.indexOf('\n', at)).trim();
        Pool pool = IpamServerTest.pool("batched", "198.18.42.0/24");
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) { // etcd may still be starting
          try {
            remote.usage(pool);
            break;
          } catch (IpamException e) {
            if (System.nanoTime() > deadline) {
              throw e;
            }
            Thread.sleep(100);
          }
        }
        io.jipam.core.testing.Concurrently.run(32, Duration.ofSeconds(60), i -> assertInstanceOf(
            AllocationOutcome.Allocated.class, remote.allocate(pool, AllocationRequest.of(new Attachment("c" + i, "eth0")))));
        remote.release(pool, new Attachment("c0", "eth0"));

        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
            .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Double> m = samples(r.body());
        String name = "jipamd_etcd_commit_batch_changes";
        double count = m.get(name + "_count{pool=\"batched\"}");
        assertEquals(33.0, m.get(name + "_sum{pool=\"batched\"}"), r.body()); // 32 ADDs and 1 DEL, each in one commit
        assertTrue(count >= 2 && count <= 33, r.body());
        assertEquals(count, m.get(name + "_bucket{pool=\"batched\",le=\"32.0\"}"), r.body());
        assertTrue(m.get(name + "_max{pool=\"batched\"}") <= 32, r.body());
        assertTrue(r.body().contains("# TYPE " + name + " histogram"), r.body());
        HttpResponse<String> health = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create(url.replace("/metrics", "/healthz"))).timeout(Duration.ofSeconds(20)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), health.body());
        assertEquals("SERVING\n", health.body());
        // the node's own blocks, and the store's own figures
        assertEquals(31.0, m.get("jipamd_node_addresses{pool=\"batched\",range_set=\"0\",state=\"used\"}"), r.body());
        assertEquals(1.0, m.get("jipamd_node_blocks{pool=\"batched\",range_set=\"0\"}"), r.body());
        assertEquals(33.0, m.get("jipamd_etcd_committed_changes_total"), r.body());
        double perChange = m.get("jipamd_etcd_written_bytes_total") / 33;
        assertTrue(perChange > 100 && perChange < 2048, r.body());
        assertTrue(m.get("jipamd_etcd_db_size_bytes") > 0, r.body());
      }
    }
  }

  @Test
  void scrape_etcdStore_poolTotalsReadAtMostOncePerMinuteNodeBlocksEveryScrape() throws Exception {
    try (Etcd etcd = Etcd.single();
        io.jipam.etcd.EtcdStore a = io.jipam.etcd.EtcdStores.open(io.jipam.etcd.EtcdStoreConfig.of(
            List.of(etcd.endpoint()), "n1").withTimeout(Duration.ofSeconds(10)));
        io.jipam.etcd.EtcdStore b = io.jipam.etcd.EtcdStores.open(io.jipam.etcd.EtcdStoreConfig.of(
            List.of(etcd.endpoint()), "n2").withTimeout(Duration.ofSeconds(10)))) {
      long[] now = {0};
      Metrics metrics = new Metrics(() -> now[0]);
      PoolRegistry pools = new PoolRegistry();
      Pool pool = IpamServerTest.pool("cached", "198.18.43.0/24");
      try (PoolRegistry.Admission admission = pools.admit(pool)) {
        a.allocate(pool, AllocationRequest.of(new Attachment("a0", "eth0")));
        admission.confirm();
      }
      String used = "{pool=\"cached\",range_set=\"0\",state=\"used\"}";
      Map<String, Double> first = samples(metrics.scrape(pools.all(), a));
      assertEquals(1.0, first.get("jipamd_pool_addresses" + used));
      assertEquals(1.0, first.get("jipamd_node_addresses" + used));
      b.allocate(pool, AllocationRequest.of(new Attachment("b0", "eth0")));
      a.allocate(pool, AllocationRequest.of(new Attachment("a1", "eth0")));
      now[0] += Metrics.POOL_TOTALS_EVERY.toNanos() - 1;
      Map<String, Double> second = samples(metrics.scrape(pools.all(), a));
      assertEquals(1.0, second.get("jipamd_pool_addresses" + used), "pool totals not read again within the minute");
      assertEquals(2.0, second.get("jipamd_node_addresses" + used), "the node's blocks read at every scrape");
      now[0] += 1;
      assertEquals(3.0, samples(metrics.scrape(pools.all(), a)).get("jipamd_pool_addresses" + used));
    }
  }

  /** Sample lines of the text format: "name{labels}" to value. */
  static Map<String, Double> samples(String text) {
    Map<String, Double> out = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int space = line.lastIndexOf(' ');
      out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
    }
    return out;
  }
}
