package io.jipam.core.store;

import io.jipam.core.net.IpAddress;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * An ADD: one address from every range set of the pool for the attachment; where {@code
 * requested} names an address in a set, exactly that one.
 *
 * <p>{@code copiedOrigins} is empty for every ADD a runtime makes. It is set only for a copy of
 * an allocation another store made ({@link #copy}: {@code jipamctl migrate}): per requested
 * address, the origin to record in the store instead of {@link AllocationOrigin#REQUESTED}, or
 * null to record none (the source recorded none). The outcome still reports {@code REQUESTED}:
 * that is why this call got the address; the record keeps why the first store gave it.
 */
public record AllocationRequest(Attachment attachment, List<IpAddress> requested, PodRef pod,
    Map<IpAddress, AllocationOrigin> copiedOrigins) {
  public AllocationRequest {
    Objects.requireNonNull(attachment, "attachment");
    requested = List.copyOf(requested == null ? List.of() : requested);
    pod = pod == null ? PodRef.UNKNOWN : pod;
    if (copiedOrigins == null || copiedOrigins.isEmpty()) {
      copiedOrigins = Map.of();
    } else {
      Map<IpAddress, AllocationOrigin> copy = new LinkedHashMap<>(copiedOrigins); // null values: none recorded
      for (Map.Entry<IpAddress, AllocationOrigin> e : copy.entrySet()) {
        if (!requested.contains(e.getKey())) {
          throw new IllegalArgumentException("copied origin for " + e.getKey() + ", which is not requested: "
              + requested);
        }
        if (e.getValue() == AllocationOrigin.EXISTING) {
          throw new IllegalArgumentException("copied origin of " + e.getKey()
              + " is existing, which no store records");
        }
      }
      copiedOrigins = Collections.unmodifiableMap(copy);
    }
  }

  /** An ADD as a runtime makes it: nothing copied. */
  public AllocationRequest(Attachment attachment, List<IpAddress> requested, PodRef pod) {
    this(attachment, requested, pod, Map.of());
  }

  public static AllocationRequest of(Attachment attachment) {
    return new AllocationRequest(attachment, List.of(), PodRef.UNKNOWN);
  }

  /**
   * A copy of an attachment's allocations from another store: exactly these addresses (in the
   * map's order), each to be recorded with its origin there (a null value: the source recorded
   * none).
   */
  public static AllocationRequest copy(Attachment attachment, Map<IpAddress, AllocationOrigin> origins, PodRef pod) {
    return new AllocationRequest(attachment, List.copyOf(origins.keySet()), pod, origins);
  }

  /** Whether this copies allocations from another store ({@link #copy}). */
  public boolean isCopy() {
    return !copiedOrigins.isEmpty();
  }

  /**
   * The origin a store records for a requested address it allocates: {@link
   * AllocationOrigin#REQUESTED}, or for a copy the copied one (null: none).
   */
  public AllocationOrigin recordedOrigin(IpAddress address) {
    return copiedOrigins.containsKey(address) ? copiedOrigins.get(address) : AllocationOrigin.REQUESTED;
  }
}
