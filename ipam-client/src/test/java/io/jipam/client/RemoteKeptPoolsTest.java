package io.jipam.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestClock;
import io.jipam.core.testing.TestPools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The pools a node jipamd's remote store keeps for a network: read from ListPools at most every half minute. */
class RemoteKeptPoolsTest {
  private final TestClock clock = new TestClock();
  private final AtomicInteger reads = new AtomicInteger();
  private final List<Pool> defined = new ArrayList<>();
  private final RemoteKeptPools kept = new RemoteKeptPools(() -> {
    reads.incrementAndGet();
    return List.copyOf(defined);
  }, clock);

  private static Pool pool(String name) {
    return TestPools.pool(name, AllocationOrder.ROUND_ROBIN, "198.18.0.0/28");
  }

  private List<String> names(String network, String... named) {
    return kept.keptPools(network, Set.of(named), TestPools.pool("like", AllocationOrder.LOWEST_FREE, "198.18.9.0/28"))
        .stream().map(p -> p.name() + " " + p.order()).toList();
  }

  @Test
  void keptPools_table_otherPoolsOfTheNetworkOnlyInTheConfigsOrder() {
    defined.addAll(List.of(pool("net"), pool("net+old"), pool("net+db"), pool("other+old"), pool("network")));
    record Row(String network, Set<String> named, List<String> want) {}
    for (Row row : List.of(new Row("net", Set.of("net", "net+db"), List.of("net+old LOWEST_FREE")),
        new Row("net", Set.of("net+db"), List.of("net LOWEST_FREE", "net+old LOWEST_FREE")),
        new Row("net", Set.of("net", "net+db", "net+old"), List.of()),
        new Row("other", Set.of("other"), List.of("other+old LOWEST_FREE")),
        new Row("absent", Set.of("absent"), List.of()))) {
      assertEquals(row.want(), names(row.network(), row.named().toArray(String[]::new)), row.toString());
    }
    assertEquals(1, reads.get(), "one ListPools for every call within the refresh");
  }

  @Test
  void keptPools_poolDefinedSinceTheRead_seenAfterTheRefreshOnly() {
    defined.add(pool("net"));
    assertEquals(List.of(), names("net", "net", "net+new"));
    defined.add(pool("net+old"));
    clock.advance(Duration.ofMillis(RemoteKeptPools.REFRESH_MILLIS - 1));
    assertEquals(List.of(), names("net", "net", "net+new"), "within the refresh: the list as read");
    clock.advance(Duration.ofMillis(1));
    assertEquals(List.of("net+old LOWEST_FREE"), names("net", "net", "net+new"));
    assertEquals(2, reads.get());
    clock.advance(Duration.ofMinutes(-5)); // the wall clock stepped back: read again rather than trust it
    names("net", "net");
    assertEquals(3, reads.get());
  }

  @Test
  void keptPools_poolThisStoreAllocatedInSinceTheRead_keptAtOnce() {
    defined.add(pool("net"));
    assertEquals(List.of(), names("net", "net", "net+db"));
    kept.allocatingIn(pool("net+db")); // this node's first ADD in it, which defines it centrally
    defined.add(pool("net+db"));
    assertEquals(List.of("net+db LOWEST_FREE"), names("net", "net", "net+database"));
    assertEquals(1, reads.get(), "no read for it");
    clock.advance(Duration.ofMillis(RemoteKeptPools.REFRESH_MILLIS));
    assertEquals(List.of("net+db LOWEST_FREE"), names("net", "net", "net+database"), "once, from the read");
  }
}
