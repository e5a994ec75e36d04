package io.jipam.core.store.capability;

import static io.jipam.core.testing.TestPools.att;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.TestPools;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link ListPages#of}: the store's own pages, or pages cut from its whole list. */
class ListPagesTest {
  static final Pool POOL = TestPools.pool("p", AllocationOrder.LOWEST_FREE, "198.18.0.0/24");

  /** Seven allocations c0..c6, namespace "even" or "odd"; in the map, c0..c2 made by node a, the rest by b. */
  static Map<Attachment, String> fill(IpamStore store) {
    Map<Attachment, String> nodes = new HashMap<>();
    for (int i = 0; i < 7; i++) {
      store.allocate(POOL, new AllocationRequest(att("c" + i), List.of(),
          new PodRef(i % 2 == 0 ? "even" : "odd", "pod-" + i)));
      nodes.put(att("c" + i), i < 3 ? "a" : "b");
    }
    return nodes;
  }

  /** Every page from the first, checking each is at most {@code size}. */
  static List<ListPages.Page> pages(ListPages pages, ListPages.Filter filter, int size) {
    List<ListPages.Page> out = new ArrayList<>();
    IpAddress after = null;
    do {
      ListPages.Page page = pages.page(POOL, filter, after, size);
      assertTrue(page.allocations().size() <= size, page.toString());
      out.add(page);
      after = page.next();
    } while (after != null && out.size() < 100);
    return out;
  }

  @Test
  void page_storeWithoutItPagesOfThree_theWholeListOnceInAddressOrder() {
    try (IpamStore store = MemoryStores.open()) {
      fill(store);
      List<ListPages.Page> pages = pages(ListPages.of(store), ListPages.Filter.ALL, 3);
      assertEquals(List.of(3, 3, 1), pages.stream().map(p -> p.allocations().size()).toList());
      List<Allocation> listed = pages.stream().flatMap(p -> p.allocations().stream())
          .map(ListPages.Listed::allocation).toList();
      assertEquals(store.list(POOL), listed);
      assertEquals(listed.get(2).address(), pages.get(0).next(), "next is the page's last address");
      assertNull(pages.get(2).next());
      assertTrue(pages.stream().flatMap(p -> p.allocations().stream()).allMatch(l -> l.node().isEmpty()),
          "no node where the store records none");
    }
  }

  @Test
  void page_filters_onlyMatchingAllocations() {
    record Row(ListPages.Filter filter, List<String> containers) {}
    List<Row> rows = List.of(
        new Row(new ListPages.Filter("c4", "", "", "", ""), List.of("c4")),
        new Row(new ListPages.Filter("c4", "eth1", "", "", ""), List.of()),
        new Row(new ListPages.Filter("", "", "odd", "", ""), List.of("c1", "c3", "c5")),
        new Row(new ListPages.Filter("", "", "even", "pod-2", ""), List.of("c2")),
        new Row(new ListPages.Filter("", "", "", "", "a"), List.of("c0", "c1", "c2")),
        new Row(new ListPages.Filter("", "", "odd", "", "b"), List.of("c3", "c5")));
    try (IpamStore memory = MemoryStores.open()) {
      Map<Attachment, String> nodes = fill(memory);
      IpamStore store = new InspectedStore(memory, null, nodes, null);
      for (Row row : rows) {
        List<String> got = new ArrayList<>();
        for (ListPages.Page page : pages(ListPages.of(store), row.filter(), 2)) {
          for (ListPages.Listed l : page.allocations()) {
            got.add(l.allocation().attachment().containerId());
            assertEquals(nodes.get(l.allocation().attachment()), l.node(), l.toString());
          }
        }
        assertEquals(row.containers(), got, row.toString());
      }
    }
  }

  @Test
  void page_nodeFilterOnAStoreThatRecordsNoNode_unsupportedFieldNamingTheStore() {
    try (IpamStore store = MemoryStores.open()) {
      fill(store);
      IpamException e = assertThrows(IpamException.class,
          () -> ListPages.of(store).page(POOL, new ListPages.Filter("", "", "", "", "node-a"), null, 10));
      assertEquals(ErrorCode.UNSUPPORTED_FIELD, e.code());
      assertEquals("List by node \"node-a\": this store (" + store.getClass().getSimpleName()
          + ") records no node; only the etcd store does", e.getMessage());
    }
  }

  @Test
  void page_sizeBelowOne_refused() {
    try (IpamStore store = MemoryStores.open()) {
      assertThrows(IllegalArgumentException.class, () -> ListPages.of(store).page(POOL, ListPages.Filter.ALL, null, 0));
    }
  }

  @Test
  void of_storeWithItsOwnPages_thoseAreUsed() {
    ListPages own = (pool, filter, after, size) -> new ListPages.Page(List.of(), null);
    try (IpamStore memory = MemoryStores.open()) {
      IpamStore store = new InspectedStore(memory, null, Map.of(), null) {
        @Override
        public <T> Optional<T> capability(Class<T> ability) {
          return ability == ListPages.class ? Optional.of(ability.cast(own)) : super.capability(ability);
        }
      };
      assertSame(own, ListPages.of(store));
    }
  }
}
