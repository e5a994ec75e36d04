package io.jipam.core.store.spi;

import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.testing.TestPools;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** The checker itself: it passes a state built by PoolState and fails each kind of corruption. */
class PoolStateInvariantsTest {
  private static PoolState state() {
    PoolState st = new PoolState(TestPools.pool("inv", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24", "fd00:8::/64"));
    st.allocate(AllocationRequest.of(TestPools.att("a")));
    st.allocate(AllocationRequest.of(TestPools.att("b")));
    st.release(TestPools.att("a"));
    PoolStateInvariants.check(st);
    return st;
  }

  @Test
  void check_addressMarkedButNotAllocated_fails() {
    PoolState st = state();
    st.allocator(0).mark(IpAddress.parse("198.18.0.99"));
    assertThrows(AssertionFailedError.class, () -> PoolStateInvariants.check(st));
  }

  @Test
  void check_allocationNotMarked_fails() {
    PoolState st = state();
    st.allocator(1).unmark(st.find(TestPools.att("b")).get(1).address());
    assertThrows(AssertionFailedError.class, () -> PoolStateInvariants.check(st));
  }

  @Test
  void check_cursorOutsideItsRangeSet_fails() {
    PoolState st = state();
    st.setCursor(0, IpAddress.parse("fd00:8::5"));
    assertThrows(AssertionFailedError.class, () -> PoolStateInvariants.check(st));
  }

  /** A state with a reservation (.50 for db/x) and a hold (of what db/web-0 held). */
  private static PoolState claimed() {
    PoolState st = new PoolState(TestPools.pool("inv", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24").withPolicy(
        new io.jipam.core.store.AddressPolicy(new io.jipam.core.store.StickyRule(
            java.util.List.of(io.jipam.core.store.PodPattern.parse("db/*")), java.time.Duration.ofSeconds(60), 1),
            java.time.Duration.ZERO)));
    st.reserve(IpAddress.parse("198.18.0.50"), new io.jipam.core.store.PodRef("db", "x"), false);
    st.allocate(new AllocationRequest(TestPools.att("h"), java.util.List.of(), new io.jipam.core.store.PodRef("db", "web-0")));
    st.release(TestPools.att("h"));
    PoolStateInvariants.check(st);
    return st;
  }

  @Test
  void check_claimedAddressNotMarked_fails() {
    PoolState st = claimed();
    st.allocator(0).unmark(IpAddress.parse("198.18.0.50"));
    assertThrows(AssertionFailedError.class, () -> PoolStateInvariants.check(st));
  }

  @Test
  void check_reservedAddressAllocatedToAPodItDoesNotAdmit_fails() {
    PoolState st = claimed();
    st.load(IpAddress.parse("198.18.0.50"), TestPools.att("intruder"), new io.jipam.core.store.PodRef("other", "y"));
    assertThrows(AssertionFailedError.class, () -> PoolStateInvariants.check(st));
  }

  @Test
  void check_holdOnAnAllocatedAddress_fails() {
    PoolState st = claimed();
    st.load(IpAddress.parse("198.18.0.2"), TestPools.att("intruder"), new io.jipam.core.store.PodRef("other", "y"));
    assertThrows(AssertionFailedError.class, () -> PoolStateInvariants.check(st));
  }
}
