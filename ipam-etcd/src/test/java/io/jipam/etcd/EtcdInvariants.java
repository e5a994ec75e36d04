package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The etcd store's invariants, checked after a test (caffeine's habit) on what is in etcd under a
 * store prefix, read at rest (no call in flight). For every pool:
 *
 * <ul>
 *   <li>handles against blocks: every address of a handle is an entry of its block naming the
 *       handle's attachment and pod, and every block entry is listed by the handle of its
 *       attachment (no entry without a handle, no handle pointing at nothing);
 *   <li>block entries lie only at offsets the pool's ranges allow (not reserved, not outside);
 *   <li>affinities against owners: a block with an owner has that owner's affinity key, and every
 *       affinity key names an existing block owned by that node.
 * </ul>
 */
final class EtcdInvariants {
  private EtcdInvariants() {}

  static void check(List<String> endpoints, String prefix) {
    EtcdStoreConfig config = EtcdStoreConfig.of(endpoints, "invariants").withPrefix(prefix);
    Keys keys = new Keys(prefix);
    BlockCodec blocks = new BlockCodec(keys);
    try (EtcdClient etcd = new EtcdClient(config, System::nanoTime)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      Set<String> owned = new HashSet<>();
      for (KeyValue pkv : etcd.range(keys.poolsPrefix(), false, deadline, "listing pools")) {
        String pool = keys.parsePool(EtcdClient.text(pkv.getKey()));
        BlockLayout layout = BlockLayout.parse(pool, EtcdClient.text(pkv.getValue()), AllocationOrder.ROUND_ROBIN);
        Map<IpAddress, Block.Entry> entries = new HashMap<>();
        for (KeyValue kv : etcd.range(keys.blocksPrefix(pool), false, deadline, "listing blocks")) {
          Block b = blocks.decode(layout, kv);
          long[] allowed = layout.allowed(b.set, b.net);
          for (Map.Entry<Integer, Block.Entry> e : b.entries.entrySet()) {
            assertTrue(BlockLayout.isSet(allowed, e.getKey()),
                b.key + ": entry at offset " + e.getKey() + " that the ranges do not allow");
            entries.put(b.addressAt(e.getKey()), e.getValue());
          }
          if (!b.owner.isEmpty()) {
            String affinity = keys.affinity(b.owner, pool, b.set, layout.blockId(b.set, b.net));
            assertTrue(owned.add(affinity), affinity + " twice");
          }
        }
        Map<IpAddress, Block.Entry> fromHandles = new HashMap<>();
        for (KeyValue kv : etcd.range(keys.handlesPrefix(pool), false, deadline, "listing handles")) {
          Handle h = HandleCodec.decode(kv);
          Attachment att = Keys.parseHandle(EtcdClient.text(kv.getKey()));
          for (Allocation a : h.allocations()) {
            assertEquals(att, a.attachment(), "handle of " + att + " lists " + a);
            Block.Entry e = entries.get(a.address());
            assertNotNull(e, "handle of " + att + " points at " + a.address() + ", which no block holds");
            assertEquals(att, e.attachment(), a.address() + ": block and handle disagree on the holder");
            assertEquals(h.pod(), e.pod(), a.address() + ": block and handle disagree on the pod");
            fromHandles.put(a.address(), new Block.Entry(att, PodRef.UNKNOWN));
          }
        }
        assertEquals(entries.keySet(), fromHandles.keySet(),
            pool + ": addresses held in blocks against addresses listed by handles");
      }
      Set<String> affinities = new HashSet<>();
      for (KeyValue kv : etcd.range(prefix + "/v1/affinity/", true, deadline, "listing affinities")) {
        affinities.add(EtcdClient.text(kv.getKey()));
      }
      assertEquals(owned, affinities, "affinity keys against block owners");
    }
  }
}
