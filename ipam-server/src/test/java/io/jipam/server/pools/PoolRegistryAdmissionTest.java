package io.jipam.server.pools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which definition the registry keeps: only one a change confirmed; a definition held by a change
 * the store refused goes with it, and a check registers nothing.
 */
class PoolRegistryAdmissionTest {
  private static final Pool A = TestPools.pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");
  private static final Pool B = TestPools.pool("net", AllocationOrder.ROUND_ROBIN, "198.18.1.0/24");

  private static List<Pool> kept(PoolRegistry r) {
    return r.all();
  }

  @Test
  void admit_changeRefusedByTheStore_definitionDroppedAnotherAdmitted() {
    PoolRegistry r = new PoolRegistry();
    try (PoolRegistry.Admission refused = r.admit(A)) {
      assertEquals(A, refused.pool());
    }
    assertEquals(List.of(), kept(r));
    PoolRegistryBoundsTest.define(r, B);
    assertEquals(List.of(B), kept(r));
  }

  @Test
  void admit_whileAnotherDefinitionIsHeld_refusedThenAdmittedOnceItIsDropped() {
    PoolRegistry r = new PoolRegistry();
    PoolRegistry.Admission first = r.admit(A);
    IpamException e = assertThrows(IpamException.class, () -> r.admit(B));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertEquals(B, r.check(B), "a read is checked against kept definitions only");
    first.close();
    PoolRegistryBoundsTest.define(r, B);
    assertThrows(IpamException.class, () -> r.check(A), "kept: reads naming another definition are refused");
    assertThrows(IpamException.class, () -> r.admit(A));
  }

  @Test
  void admit_twoChangesOfOneDefinition_oneRefusedOneTaken_kept() {
    PoolRegistry r = new PoolRegistry();
    PoolRegistry.Admission refused = r.admit(A);
    PoolRegistry.Admission taken = r.admit(A);
    refused.close();
    taken.confirm();
    taken.close();
    refused.close(); // ends once
    assertEquals(List.of(A), kept(r));
  }

  @Test
  void check_manyPoolsNoneAllocated_registersNothingWithinNoBound() {
    PoolRegistry r = new PoolRegistry();
    for (int i = 0; i <= PoolRegistry.MAX_POOLS; i++) {
      r.check(TestPools.pool("p" + i, AllocationOrder.ROUND_ROBIN, "198.18.0.0/30"));
    }
    assertEquals(List.of(), kept(r));
    PoolRegistryBoundsTest.define(r, A); // the bound is untouched
  }

  @Test
  void admit_samePoolOtherPolicy_admittedWithItsOwnPolicyAndShownLast() {
    PoolRegistry r = new PoolRegistry();
    PoolRegistryBoundsTest.define(r, A);
    Pool sticky = A.withPolicy(new io.jipam.core.store.AddressPolicy(null, java.time.Duration.ofSeconds(60)));
    try (PoolRegistry.Admission a = r.admit(sticky)) {
      assertEquals(sticky.policy(), a.pool().policy(), "the call runs with its own policy");
      a.confirm();
    }
    assertEquals(sticky, r.check(sticky));
    assertEquals(A, r.check(A), "a read with the earlier policy is served too");
    assertEquals(List.of(sticky), kept(r), "the last change's policy is shown");
    try (PoolRegistry.Admission a = r.admit(A)) {
      assertEquals(A.policy(), a.pool().policy());
    }
    assertThrows(IpamException.class, () -> r.admit(B.withPolicy(sticky.policy())), "other ranges still refused");
  }
}
