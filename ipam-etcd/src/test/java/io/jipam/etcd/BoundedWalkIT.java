package io.jipam.etcd;

import io.jipam.testkit.Etcd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.op.Op;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link BoundedWalk} on a real etcd: every key once, in order, at one revision, and the keys etcd
 * visits for it (the sum of each read's {@code count}) linear in the keys walked, where paging
 * from the last key to the end of the prefix visits n²/(2·limit).
 */
@ExtendWith(EtcdExtension.class)
class BoundedWalkIT {
  private static final int LIMIT = 20;

  /** Key shapes of this store: hex addresses, handles of pod names, node-scoped handles. */
  private static final List<IntFunction<String>> SHAPES = List.of(
      i -> String.format("6.fd005ca1%022x", 0x10000L + 3L * i),
      i -> "n" + (i / 11) + "-p" + (i % 11) + "/eth0",
      i -> "node-" + (i / 7) + "/scale/n" + (i / 7) + "-p" + (i % 7) + "/eth0");

  @ParameterizedTest(name = "shape {0}")
  @CsvSource({"0", "1", "2"})
  void walk_tenTimesTheKeys_tenTimesTheVisits(int shape, Etcd etcd) {
    try (EtcdClient client = client(etcd)) {
      double small = visitsPerKey(client, 400, SHAPES.get(shape));
      double large = visitsPerKey(client, 4000, SHAPES.get(shape));
      // paging to the end of the prefix: 400 / (2 * 20) = 10 and 4000 / 40 = 100 visits a key
      assertTrue(large <= 8 && large <= 2 * small + 1, "visits per key: " + small + " at 400, " + large + " at 4000");
    }
  }

  @Test
  void walk_keysChangedDuringTheWalk_seesTheFirstReadsRevision(Etcd etcd) {
    try (EtcdClient client = client(etcd)) {
      String prefix = "/walk-" + UUID.randomUUID() + "/";
      List<String> keys = write(client, prefix, 300, SHAPES.get(0));
      List<String> seen = new ArrayList<>();
      client.walk(prefix, LIMIT, Fetch.KEYS, deadline(), "walking", kv -> {
        seen.add(EtcdClient.text(kv.getKey()));
        if (seen.size() == 1) { // after the first read: one key deleted, one added
          client.txn(List.of(), List.of(EtcdClient.delete(keys.get(250)), EtcdClient.put(prefix + "7.late", "")),
              List.of(), deadline(), "changing");
        }
      });
      assertEquals(keys, seen);
    }
  }

  /** Writes n keys, walks them, checks order and completeness; etcd's visits per key walked. */
  private static double visitsPerKey(EtcdClient client, int n, IntFunction<String> shape) {
    String prefix = "/walk-" + UUID.randomUUID() + "/";
    List<String> keys = write(client, prefix, n, shape);
    List<String> seen = new ArrayList<>();
    long before = client.tally().keysScanned();
    long readBefore = client.tally().keysRead();
    client.walk(prefix, LIMIT, Fetch.KEYS, deadline(), "walking", kv -> seen.add(EtcdClient.text(kv.getKey())));
    assertEquals(keys, seen);
    assertEquals(n, client.tally().keysRead() - readBefore, "keys returned");
    return (client.tally().keysScanned() - before) / (double) n;
  }

  private static List<String> write(EtcdClient client, String prefix, int n, IntFunction<String> shape) {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      keys.add(prefix + shape.apply(i));
    }
    for (int from = 0; from < n; from += 100) {
      List<Op> puts = new ArrayList<>();
      keys.subList(from, Math.min(n, from + 100)).forEach(k -> puts.add(EtcdClient.put(k, "")));
      client.txn(List.of(), puts, List.of(), deadline(), "writing");
    }
    return keys.stream().sorted().toList();
  }

  private static EtcdClient client(Etcd etcd) {
    return new EtcdClient(EtcdStoreConfig.of(etcd.endpoints(), "walker"), System::nanoTime);
  }

  private static long deadline() {
    return System.nanoTime() + 30_000_000_000L;
  }
}
