package io.jipam.core.store.capability;

import static io.jipam.core.testing.TestPools.att;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link RetainPreview#of}: the store's own preview, or one from its list, changing nothing. */
class RetainPreviewTest {

  static List<String> containers(List<Allocation> list) {
    return list.stream().map(a -> a.attachment().containerId()).toList();
  }

  @Test
  void retainOnlyPreview_storeWithoutIt_everyAllocationNotKeptAndNothingReleased() {
    try (IpamStore store = MemoryStores.open()) {
      ListPagesTest.fill(store);
      List<Allocation> before = store.list(ListPagesTest.POOL);
      List<Allocation> preview = RetainPreview.of(store).retainOnlyPreview(ListPagesTest.POOL,
          Set.of(att("c1"), att("c5")));
      assertEquals(List.of("c0", "c2", "c3", "c4", "c6"), containers(preview));
      assertEquals(before, store.list(ListPagesTest.POOL), "a preview changes nothing");
    }
  }

  @Test
  void retainOnlyPreview_storeWhoseGcIsPerNode_onlyWhatItsNodeMade() {
    try (IpamStore memory = MemoryStores.open()) {
      Map<Attachment, String> nodes = ListPagesTest.fill(memory);
      IpamStore nodeA = new InspectedStore(memory, null, nodes, "a");
      assertEquals(List.of("c0", "c2"), containers(RetainPreview.of(nodeA).retainOnlyPreview(ListPagesTest.POOL,
          Set.of(att("c1"), att("c5")))));
      IpamStore noNodeView = new InspectedStore(memory, null, nodes, null);
      assertEquals(5, RetainPreview.of(noNodeView).retainOnlyPreview(ListPagesTest.POOL,
          Set.of(att("c1"), att("c5"))).size(), "Inspection alone is not a per-node GC");
    }
  }

  @Test
  void of_storeWithItsOwnPreview_thatIsUsed() {
    RetainPreview own = (pool, valid) -> List.of();
    try (IpamStore memory = MemoryStores.open()) {
      IpamStore store = new InspectedStore(memory, null, Map.of(), null) {
        @Override
        public <T> Optional<T> capability(Class<T> ability) {
          return ability == RetainPreview.class ? Optional.of(ability.cast(own)) : super.capability(ability);
        }
      };
      assertSame(own, RetainPreview.of(store));
    }
  }
}
