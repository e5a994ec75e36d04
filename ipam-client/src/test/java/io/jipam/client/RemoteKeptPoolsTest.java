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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The pools a node jipamd's remote store keeps for a network: read from a ListPools of the network
 * at most every half minute per network; from an older central jipamd, which answers every pool,
 * the network's only.
 */
class RemoteKeptPoolsTest {
  private final TestClock clock = new TestClock();
  /** The networks read, in order: one ListPools each. */
  private final List<String> asked = new ArrayList<>();
  private final List<Pool> defined = new ArrayList<>();
  /** Whether the central jipamd answers as an older one: every pool, whatever the network asked. */
  private boolean olderCentral;
  private final RemoteKeptPools kept = new RemoteKeptPools(network -> {
    asked.add(network);
    return defined.stream().filter(p -> olderCentral || Pool.networkOf(p.name()).equals(network)).toList();
  }, clock);

  private static Pool pool(String name) {
    return TestPools.pool(name, AllocationOrder.ROUND_ROBIN, "198.18.0.0/28");
  }

  private List<String> names(String network, String... named) {
    return kept.keptPools(network, Set.of(named), TestPools.pool("like", AllocationOrder.LOWEST_FREE, "198.18.9.0/28"))
        .stream().map(p -> p.name() + " " + p.order()).toList();
  }

  /** Either central jipamd, this one or an older one answering every pool: the network's pools only. */
  @ParameterizedTest(name = "older central: {0}")
  @ValueSource(booleans = {false, true})
  void keptPools_table_otherPoolsOfTheNetworkOnlyInTheConfigsOrder(boolean older) {
    olderCentral = older;
    defined.addAll(List.of(pool("net"), pool("net+old"), pool("net+db"), pool("other+old"), pool("network"),
        pool("network+old"), pool("net2+old")));
    record Row(String network, Set<String> named, List<String> want) {}
    for (Row row : List.of(new Row("net", Set.of("net", "net+db"), List.of("net+old LOWEST_FREE")),
        new Row("net", Set.of("net+db"), List.of("net LOWEST_FREE", "net+old LOWEST_FREE")),
        new Row("net", Set.of("net", "net+db", "net+old"), List.of()),
        new Row("other", Set.of("other"), List.of("other+old LOWEST_FREE")),
        new Row("network", Set.of("network"), List.of("network+old LOWEST_FREE")),
        new Row("absent", Set.of("absent"), List.of()))) {
      assertEquals(row.want(), names(row.network(), row.named().toArray(String[]::new)), row.toString());
    }
    assertEquals(List.of("net", "other", "network", "absent"), asked,
        "one ListPools per network for every call within the refresh");
  }

  /** Two networks: each read on its first call, and again once its own refresh is due. */
  @Test
  void keptPools_twoNetworks_oneReadPerNetworkPerRefresh() {
    defined.addAll(List.of(pool("a"), pool("a+old"), pool("b"), pool("b+old")));
    assertEquals(List.of("a+old LOWEST_FREE"), names("a", "a"));
    clock.advance(Duration.ofMillis(RemoteKeptPools.REFRESH_MILLIS / 2));
    assertEquals(List.of("b+old LOWEST_FREE"), names("b", "b"));
    names("a", "a");
    names("b", "b");
    assertEquals(List.of("a", "b"), asked, "within both refreshes: one read each");
    clock.advance(Duration.ofMillis(RemoteKeptPools.REFRESH_MILLIS / 2));
    names("a", "a");
    names("b", "b");
    assertEquals(List.of("a", "b", "a"), asked, "a's refresh is due, b's not");
    clock.advance(Duration.ofMillis(RemoteKeptPools.REFRESH_MILLIS / 2));
    names("b", "b");
    names("a", "a");
    assertEquals(List.of("a", "b", "a", "b"), asked, "b's refresh is due, a's not");
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
    assertEquals(2, asked.size());
    clock.advance(Duration.ofMinutes(-5)); // the wall clock stepped back: read again rather than trust it
    names("net", "net");
    assertEquals(3, asked.size());
  }

  @Test
  void keptPools_poolThisStoreAllocatedInSinceTheRead_keptAtOnce() {
    defined.add(pool("net"));
    assertEquals(List.of(), names("net", "net", "net+db"));
    kept.allocatingIn(pool("net+db")); // this node's first ADD in it, which defines it centrally
    defined.add(pool("net+db"));
    assertEquals(List.of("net+db LOWEST_FREE"), names("net", "net", "net+database"));
    assertEquals(1, asked.size(), "no read for it");
    clock.advance(Duration.ofMillis(RemoteKeptPools.REFRESH_MILLIS));
    assertEquals(List.of("net+db LOWEST_FREE"), names("net", "net", "net+database"), "once, from the read");
  }
}
