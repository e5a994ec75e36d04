package io.jipam.core.store.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link PoolState}'s internal invariants, checked after a test (caffeine's habit): the bitmaps
 * mark exactly the allocations of the address index, and the index by attachment holds exactly
 * the same allocations.
 *
 * <ul>
 *   <li>each allocation's range set is the one its address lies in (-1: in none);
 *   <li>each allocation in a range set is marked in that set's bitmap, and a set's count of marked
 *       addresses is its number of allocations (so nothing else is marked);
 *   <li>by attachment: no empty list, lists in range set order with at most one address per set,
 *       and together exactly the allocations by address;
 *   <li>each round-robin cursor, when set, lies in its range set;
 *   <li>claims: no address both held or cooling and allocated; a reserved address allocated only
 *       to a pod the reservation admits (or reserved "when free" while another pod held it); a
 *       claimed unallocated address stays marked (so the bitmaps mark exactly allocations plus
 *       unallocated claims); holds of a set within the sticky rule's bound.
 * </ul>
 *
 * <p>Public in ipam-core's test-jar so that every store keeping a PoolState can check it.
 */
public final class PoolStateInvariants {
  private PoolStateInvariants() {}

  public static void check(PoolState st) {
    Pool pool = st.pool();
    String name = pool.name();
    long[] perSet = new long[pool.rangeSets().size()];
    long[] holds = new long[perSet.length];
    for (io.jipam.core.store.Claim c : st.storedClaims()) {
      int set = pool.rangeSetIndexOf(c.address());
      Allocation holder = st.holderOf(c.address());
      if (c.kind() != io.jipam.core.store.Claim.Kind.RESERVATION) {
        assertEquals(null, holder, name + ": " + c + " on an allocated address");
        holds[Math.max(set, 0)] += c.kind() == io.jipam.core.store.Claim.Kind.HOLD ? 1 : 0;
      } else if (holder != null) {
        assertTrue(c.admits(holder.pod()) || st.reservedWhenFree(c.address()),
            name + ": " + c + " allocated to " + holder + ", a pod it does not admit");
      }
      if (set >= 0 && holder == null) {
        assertFalse(st.allocator(set).isFree(c.address()), name + ": claimed " + c + " not marked");
        perSet[set]++; // marked for the claim
      }
    }
    if (pool.policy().sticky() != null) {
      for (int set = 0; set < holds.length; set++) {
        long max = pool.policy().sticky().maxHeld(st.allocator(set).capacity());
        assertTrue(holds[set] <= max, name + ": " + holds[set] + " holds in range set " + set + ", bound " + max);
      }
    }
    for (Allocation a : st.allocations()) {
      int set = pool.rangeSetIndexOf(a.address());
      assertEquals(set, a.rangeSetIndex(), name + ": range set of " + a);
      if (set >= 0) {
        assertFalse(st.allocator(set).isFree(a.address()), name + ": " + a + " not marked in its bitmap");
        perSet[set]++;
      }
    }
    for (int set = 0; set < perSet.length; set++) {
      assertEquals(perSet[set], st.allocator(set).allocated(),
          name + ": addresses marked in range set " + set + " against allocations and unallocated claims in it");
      IpAddress cursor = st.cursor(set);
      if (cursor != null) {
        assertEquals(set, pool.rangeSetIndexOf(cursor), name + ": cursor " + cursor + " of range set " + set);
      }
    }
    Map<IpAddress, Allocation> fromAttachments = new HashMap<>();
    for (Map.Entry<Attachment, List<Allocation>> e : st.byAttachment().entrySet()) {
      List<Allocation> held = e.getValue();
      assertFalse(held.isEmpty(), name + ": empty list of " + e.getKey());
      for (int i = 0; i < held.size(); i++) {
        Allocation a = held.get(i);
        assertEquals(e.getKey(), a.attachment(), name + ": " + a + " listed under " + e.getKey());
        if (i > 0) {
          assertTrue(held.get(i - 1).rangeSetIndex() < a.rangeSetIndex() || a.rangeSetIndex() < 0,
              name + ": " + e.getKey() + " holds " + held + ", not one per range set in order");
        }
        assertEquals(null, fromAttachments.put(a.address(), a), name + ": " + a.address() + " listed twice");
      }
    }
    Map<IpAddress, Allocation> byAddress = new HashMap<>();
    for (Allocation a : st.allocations()) {
      byAddress.put(a.address(), a);
    }
    assertEquals(byAddress, fromAttachments, name + ": allocations by address against by attachment");
  }
}
