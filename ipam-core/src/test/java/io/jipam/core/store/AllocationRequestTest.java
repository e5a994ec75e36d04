package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.net.IpAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class AllocationRequestTest {
  private static final Attachment ATT = new Attachment("c1", "eth0");
  private static final IpAddress A = IpAddress.parse("198.18.0.2");
  private static final IpAddress B = IpAddress.parse("fd00::2");

  @Test
  void recordedOrigin_anAdd_isRequested() {
    AllocationRequest add = new AllocationRequest(ATT, List.of(A), PodRef.UNKNOWN);
    assertFalse(add.isCopy());
    assertEquals(AllocationOrigin.REQUESTED, add.recordedOrigin(A));
  }

  @Test
  void copy_originsInOrderWithNone_requestsEachAndRecordsItsOrigin() {
    Map<IpAddress, AllocationOrigin> origins = new LinkedHashMap<>();
    origins.put(B, AllocationOrigin.STICKY);
    origins.put(A, null);
    AllocationRequest copy = AllocationRequest.copy(ATT, origins, PodRef.UNKNOWN);
    assertTrue(copy.isCopy());
    assertEquals(List.of(B, A), copy.requested(), "in the map's order");
    assertEquals(AllocationOrigin.STICKY, copy.recordedOrigin(B));
    assertNull(copy.recordedOrigin(A), "none recorded");
    origins.clear();
    assertEquals(List.of(B, A), copy.requested(), "a copy of the map, not a view");
    assertTrue(copy.copiedOrigins().containsKey(A));
  }

  static Stream<Arguments> badCopies() {
    return Stream.of(
        Arguments.of("an origin no store records", List.of(A), Map.of(A, AllocationOrigin.EXISTING), "198.18.0.2 is existing"),
        Arguments.of("an address not requested", List.of(A), Map.of(B, AllocationOrigin.FREE), "fd00::2, which is not requested"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badCopies")
  void new_badCopiedOrigins_refusedNamingTheAddress(String name, List<IpAddress> requested,
      Map<IpAddress, AllocationOrigin> origins, String named) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new AllocationRequest(ATT, requested, PodRef.UNKNOWN, origins));
    assertTrue(e.getMessage().contains(named), e.getMessage());
  }
}
