package io.jipam.server.grpc;

import io.jipam.api.ClaimWire;
import io.jipam.api.WireMapping;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Claims;
import io.jipam.api.v1.ClaimRequest;
import io.jipam.api.v1.ClaimResponse;
import io.jipam.api.v1.ListClaimsResponse;
import io.jipam.api.v1.ReserveRequest;
import io.jipam.api.v1.ReserveResponse;
import java.util.Optional;

/**
 * Reserve, Unreserve, EndHold and ListClaims on the store's {@link Claims}: operators' calls
 * ({@link Access}). A store without claims answers UNSUPPORTED_FIELD naming it. Stateless.
 */
final class ClaimCalls {
  private ClaimCalls() {}

  static ReserveResponse reserve(IpamStore store, Pool pool, ReserveRequest r) {
    IpAddress address = WireMapping.address(r.getAddress(), "Reserve address");
    PodRef forWhom = ClaimWire.reservedFor(r.getPod()); // the request is checked before the store is asked
    return ClaimWire.outcome(claims(store, "Reserve").reserve(pool, address, forWhom, r.getWhenFree()));
  }

  static ClaimResponse unreserve(IpamStore store, Pool pool, ClaimRequest r) {
    IpAddress address = WireMapping.address(r.getAddress(), "Unreserve address");
    return answer(claims(store, "Unreserve").unreserve(pool, address));
  }

  static ClaimResponse endHold(IpamStore store, Pool pool, ClaimRequest r) {
    IpAddress address = WireMapping.address(r.getAddress(), "EndHold address");
    return answer(claims(store, "EndHold").endHold(pool, address));
  }

  static ListClaimsResponse list(IpamStore store, Pool pool) {
    ListClaimsResponse.Builder out = ListClaimsResponse.newBuilder();
    claims(store, "ListClaims").claims(pool).forEach(c -> out.addClaims(ClaimWire.claim(c)));
    return out.build();
  }

  private static ClaimResponse answer(Optional<io.jipam.core.store.Claim> ended) {
    ClaimResponse.Builder b = ClaimResponse.newBuilder();
    ended.ifPresent(c -> b.setClaim(ClaimWire.claim(c)));
    return b.build();
  }

  private static Claims claims(IpamStore store, String method) {
    return store.capability(Claims.class).orElseThrow(() -> new IpamException(ErrorCode.UNSUPPORTED_FIELD,
        method + ": this jipamd's store (" + store.getClass().getSimpleName() + ") keeps no claims"));
  }
}
