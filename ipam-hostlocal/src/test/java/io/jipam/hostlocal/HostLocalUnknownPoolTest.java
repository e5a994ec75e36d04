package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Calls that change nothing on a pool the data dir has never held (issue 17, item 14: 3000 made-up
 * names left 3000 directories): find, list, usage, release and GC answer "nothing" and write
 * nothing, no {@code <data>/<name>/lock}, no {@code .jipam/<name>/}; an allocation afterwards
 * works as on a fresh pool. Both file stores: the one-shot plugin's and jipamd's write-through one.
 */
class HostLocalUnknownPoolTest {
  @TempDir Path data;

  static IpamStore open(String kind, Path data) {
    return kind.equals("write-through") ? HostLocalStores.openWriteThrough(data, FileSync.NONE) : HostLocalStores.open(data);
  }

  @ParameterizedTest
  @ValueSource(strings = {"one-shot", "write-through"})
  void readsAndReleases_unknownPool_writeNothing(String kind) throws Exception {
    Pool pool = TestPools.pool("made-up", AllocationOrder.ROUND_ROBIN, "198.18.20.0/24", "fd00:20::/64");
    Attachment a = new Attachment("c1", "eth0");
    try (IpamStore store = open(kind, data)) {
      for (int i = 0; i < 3; i++) {
        assertEquals(List.of(), store.find(pool, a));
        assertEquals(List.of(), store.list(pool));
        assertEquals(List.of(0L, 0L), store.usage(pool).allocated());
        assertEquals(List.of(), store.release(pool, a));
        assertEquals(List.of(), store.retainOnly(pool, Set.of()));
      }
      try (Stream<Path> left = Files.list(data)) {
        assertEquals(List.of(), left.toList(), "written into the data dir");
      }
      assertTrue(store.allocate(pool, AllocationRequest.of(a)) instanceof io.jipam.core.store.AllocationOutcome.Allocated);
      assertEquals(2, store.find(pool, a).size());
      assertEquals(List.of(1L, 1L), store.usage(pool).allocated());
    }
  }
}
