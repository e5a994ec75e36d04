package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The etcd store's invariants, checked after a test (caffeine's habit) on what is in etcd under a
 * store prefix, read at rest (no call in flight), in layout {@value Keys#LAYOUT}. For every pool:
 *
 * <ul>
 *   <li>blocks against address records: every allocated bit of a block has its address record,
 *       of the block's range set, and every address record its bit; bits lie only at offsets the
 *       pool's ranges allow (not reserved, not outside);
 *   <li>handles against address records: every address of a handle has its record naming the
 *       handle's attachment, pod and origin, in the handle's range set, and every record is
 *       listed by the handle of its attachment;
 *   <li>the node index: every handle has its copy, equal to it, under its node
 *       ({@code node-handles/<node>/<pool>/...}), and every copy its handle;
 *   <li>affinities against owners: a block with an owner has that owner's affinity key, and every
 *       affinity key names an existing block owned by that node;
 *   <li>claims (live at {@code now}): only a reservation may lie on an allocated address, and only
 *       at an offset the ranges allow; the reservations in blocks are exactly the pool's
 *       reservations record; every live hold is listed by its pod's hold index;
 *   <li>no block, handle, address record or reservations record of a pool without a definition
 *       (a retired pool leaves none).
 * </ul>
 */
final class EtcdInvariants {
  private EtcdInvariants() {}

  static void check(java.util.List<String> endpoints, String prefix) {
    check(endpoints, prefix, java.time.Instant.now());
  }

  /** The invariants with claims judged live or expired at {@code now} (a test's clock). */
  static void check(java.util.List<String> endpoints, String prefix, java.time.Instant now) {
    EtcdStoreConfig config = EtcdStoreConfig.of(endpoints, "invariants").withPrefix(prefix);
    Keys keys = new Keys(prefix);
    BlockCodec blocks = new BlockCodec(keys);
    try (EtcdClient etcd = new EtcdClient(config, System::nanoTime)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      Set<String> owned = new HashSet<>();
      Map<String, String> indexed = new HashMap<>();
      for (KeyValue kv : etcd.range(keys.nodeHandlesRoot(), Fetch.VALUES, deadline, "listing the node index")) {
        indexed.put(EtcdClient.text(kv.getKey()), EtcdClient.text(kv.getValue()));
      }
      Set<String> defined = new HashSet<>();
      for (KeyValue pkv : etcd.range(keys.poolsPrefix(), Fetch.VALUES, deadline, "listing pools")) {
        String pool = keys.parsePool(EtcdClient.text(pkv.getKey()));
        defined.add(pool);
        BlockLayout layout = BlockLayout.parse(pool, EtcdClient.text(pkv.getValue()), AllocationOrder.ROUND_ROBIN);
        Map<IpAddress, Allocation> records = new HashMap<>();
        for (KeyValue kv : etcd.range(keys.addressesPrefix(pool), Fetch.VALUES, deadline, "listing addresses")) {
          String key = EtcdClient.text(kv.getKey());
          Allocation a = AddressCodec.decode(key, keys.parseAddress(pool, key), kv);
          records.put(a.address(), a);
        }
        Set<IpAddress> inBlocks = new HashSet<>();
        Map<IpAddress, io.jipam.core.store.PodRef> reservedInBlocks = new HashMap<>();
        for (KeyValue kv : etcd.range(keys.blocksPrefix(pool), Fetch.VALUES, deadline, "listing blocks")) {
          Block b = blocks.decode(layout, kv);
          long[] allowed = layout.allowed(b.set, b.net);
          for (Map.Entry<Integer, io.jipam.core.store.Claim> e : b.claims.entrySet()) {
            io.jipam.core.store.Claim c = e.getValue();
            if (c.expiredAt(now)) {
              continue;
            }
            assertTrue(BlockLayout.isSet(allowed, e.getKey()), b.key + ": claim " + c + " at an offset the ranges do not allow");
            assertTrue(!b.isUsed(e.getKey()) || c.kind() == io.jipam.core.store.Claim.Kind.RESERVATION,
                b.key + ": " + c + " on an allocated address");
            if (c.kind() == io.jipam.core.store.Claim.Kind.RESERVATION) {
              reservedInBlocks.put(c.address(), c.pod());
            } else if (c.kind() == io.jipam.core.store.Claim.Kind.HOLD) {
              String holdsKey = keys.holds(pool, c.pod());
              KeyValue index = etcd.getAll(java.util.List.of(holdsKey), deadline, "reading holds").get(0);
              assertTrue(ClaimIndex.holds(holdsKey, index).entries().stream().anyMatch(x -> x.address().equals(c.address())),
                  b.key + ": " + c + " is not listed by " + holdsKey);
            }
          }
          for (int o = b.used.nextSetBit(0); o >= 0; o = b.used.nextSetBit(o + 1)) {
            assertTrue(BlockLayout.isSet(allowed, o), b.key + ": offset " + o + " allocated, which the ranges do not allow");
            Allocation r = records.get(b.addressAt(o));
            assertNotNull(r, b.key + ": " + b.addressAt(o) + " allocated without its address record");
            assertEquals(b.set, r.rangeSetIndex(), b.addressAt(o) + ": block and address record disagree on the set");
            inBlocks.add(b.addressAt(o));
          }
          if (!b.owner.isEmpty()) {
            String affinity = keys.affinity(b.owner, pool, b.set, layout.blockId(b.set, b.net));
            assertTrue(owned.add(affinity), affinity + " twice");
          }
        }
        assertEquals(records.keySet(), inBlocks, pool + ": address records against allocated bits");
        String resKey = keys.reservations(pool);
        Map<IpAddress, io.jipam.core.store.PodRef> listed = new HashMap<>();
        ClaimIndex.reservations(resKey, etcd.getAll(java.util.List.of(resKey), deadline, "reading reservations").get(0))
            .entries().forEach(x -> listed.put(x.address(), x.pod()));
        assertEquals(listed, reservedInBlocks, pool + ": the reservations record against the reservations in blocks");
        Set<IpAddress> fromHandles = new HashSet<>();
        for (KeyValue kv : etcd.range(keys.handlesPrefix(pool), Fetch.VALUES, deadline, "listing handles")) {
          Handle h = HandleCodec.decode(kv);
          Attachment att = Keys.parseHandle(EtcdClient.text(kv.getKey()));
          for (Allocation a : h.allocations()) {
            assertEquals(att, a.attachment(), "handle of " + att + " lists " + a);
            Allocation r = records.get(a.address());
            assertNotNull(r, "handle of " + att + " points at " + a.address() + ", which no block holds");
            assertEquals(att, r.attachment(), a.address() + ": address record and handle disagree on the holder");
            assertEquals(h.pod(), r.pod(), a.address() + ": address record and handle disagree on the pod");
            assertEquals(a.rangeSetIndex(), r.rangeSetIndex(), a.address() + ": set of handle and record");
            assertEquals(a.origin(), r.origin(), a.address() + ": address record and handle disagree on why it was given");
            fromHandles.add(a.address());
          }
          String copy = indexed.remove(keys.nodeHandle(h.node(), pool, att));
          assertEquals(EtcdClient.text(kv.getValue()), copy, "handle of " + att + " against its copy under node "
              + h.node());
        }
        assertEquals(records.keySet(), fromHandles, pool + ": address records against addresses listed by handles");
      }
      assertEquals(Map.of(), indexed, "node index entries without their handle");
      String root = prefix + "/v" + Keys.LAYOUT + "/";
      for (String kind : java.util.List.of("blocks/", "handles/", "addresses/", "reservations/")) {
        for (KeyValue kv : etcd.range(root + kind, Fetch.KEYS, deadline, "listing " + kind)) {
          String rest = EtcdClient.text(kv.getKey()).substring((root + kind).length());
          String pool = rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest;
          assertTrue(defined.contains(pool), EtcdClient.text(kv.getKey()) + ": a key of pool " + pool
              + ", which has no definition");
        }
      }
      Set<String> affinities = new HashSet<>();
      for (KeyValue kv : etcd.range(prefix + "/v" + Keys.LAYOUT + "/affinity/", Fetch.KEYS, deadline, "listing affinities")) {
        affinities.add(EtcdClient.text(kv.getKey()));
      }
      assertEquals(owned, affinities, "affinity keys against block owners");
    }
  }
}
