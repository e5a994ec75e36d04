package io.jipam.api;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.Limits;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.api.v1.AllocateResponse;
import io.jipam.api.v1.Allocated;
import io.jipam.api.v1.Exhausted;
import io.jipam.api.v1.Order;
import io.jipam.api.v1.Range;
import io.jipam.api.v1.RangeSetUsage;
import io.jipam.api.v1.Taken;
import io.jipam.api.v1.Unavailable;
import java.util.ArrayList;
import java.util.List;

/**
 * Converts between the store's value types and the {@code jipam.v1} messages, both ways and
 * without loss: every field of a core value has a field in its message. Decoding validates as the
 * core constructors do, so a malformed field becomes an {@link IpamException} naming it
 * ({@code INVALID_CONFIG}), never a half-built value.
 */
public final class Protos {
  private Protos() {}

  public static io.jipam.api.v1.Pool pool(Pool pool) {
    io.jipam.api.v1.Pool.Builder b = io.jipam.api.v1.Pool.newBuilder()
        .setName(pool.name())
        .setOrder(pool.order() == AllocationOrder.LOWEST_FREE ? Order.LOWEST_FREE : Order.ROUND_ROBIN);
    for (io.jipam.core.net.RangeSet set : pool.rangeSets()) {
      io.jipam.api.v1.RangeSet.Builder s = io.jipam.api.v1.RangeSet.newBuilder();
      for (IpRange r : set.ranges()) {
        Range.Builder rb = Range.newBuilder()
            .setSubnet(r.subnet().toString())
            .setRangeStart(r.rangeStart().toString())
            .setRangeEnd(r.rangeEnd().toString())
            .setGateway(r.gateway().toString());
        r.exclude().forEach(x -> rb.addExclude(x.toString()));
        s.addRanges(rb);
      }
      b.addRangeSets(s);
    }
    return b.build();
  }

  public static Pool pool(io.jipam.api.v1.Pool message) {
    if (message == null || message.getName().isEmpty()) {
      throw IpamException.invalidConfig("request has no pool name");
    }
    // the limits are the value types' (Limits); counted here first, before anything is built
    Limits.check("pool " + message.getName(), "range sets", message.getRangeSetsCount(), Limits.MAX_RANGE_SETS);
    List<io.jipam.core.net.RangeSet> sets = new ArrayList<>();
    for (int s = 0; s < message.getRangeSetsCount(); s++) {
      io.jipam.api.v1.RangeSet set = message.getRangeSets(s);
      Limits.check("pool " + message.getName() + " range_sets[" + s + "]", "ranges", set.getRangesCount(),
          Limits.MAX_RANGES_PER_SET);
      List<IpRange> ranges = new ArrayList<>();
      for (int i = 0; i < set.getRangesCount(); i++) {
        Range r = set.getRanges(i);
        String where = "pool " + message.getName() + " range_sets[" + s + "].ranges[" + i + "]";
        Limits.check(where, "exclude entries", r.getExcludeCount(), Limits.MAX_EXCLUDES);
        try {
          List<Cidr> exclude = new ArrayList<>();
          for (String x : r.getExcludeList()) {
            exclude.add(Cidr.parse(x));
          }
          ranges.add(new IpRange(Cidr.parse(r.getSubnet()), address(r.getRangeStart(), "range_start"),
              address(r.getRangeEnd(), "range_end"), address(r.getGateway(), "gateway"), exclude));
        } catch (IpamException e) {
          throw new IpamException(e.code(), where + ": " + e.getMessage(), e);
        }
      }
      try {
        sets.add(new io.jipam.core.net.RangeSet(ranges));
      } catch (IpamException e) {
        throw new IpamException(e.code(), "pool " + message.getName() + " range_sets[" + s + "]: "
            + e.getMessage(), e);
      }
    }
    AllocationOrder order = switch (message.getOrder()) {
      case ORDER_UNSPECIFIED, ROUND_ROBIN -> AllocationOrder.ROUND_ROBIN;
      case LOWEST_FREE -> AllocationOrder.LOWEST_FREE;
      default -> throw IpamException.invalidConfig("pool %s: unknown order %d", message.getName(),
          message.getOrderValue());
    };
    return new Pool(message.getName(), sets, order);
  }

  public static IpAddress address(String text, String field) {
    IpAddress a = IpAddress.tryParse(text);
    if (a == null) {
      throw IpamException.invalidConfig("%s \"%s\" is not an IP address", field, text);
    }
    return a;
  }

  public static io.jipam.api.v1.Attachment attachment(Attachment a) {
    return io.jipam.api.v1.Attachment.newBuilder().setContainerId(a.containerId()).setIfname(a.ifname()).build();
  }

  public static Attachment attachment(io.jipam.api.v1.Attachment a) {
    return new Attachment(a.getContainerId(), a.getIfname());
  }

  public static io.jipam.api.v1.PodRef pod(PodRef pod) {
    return io.jipam.api.v1.PodRef.newBuilder().setNamespace(pod.namespace()).setName(pod.name()).build();
  }

  /** A pod from a stored allocation: as it is, checked or not when it was written. */
  public static PodRef pod(io.jipam.api.v1.PodRef pod) {
    return new PodRef(pod.getNamespace(), pod.getName());
  }

  /** A pod from a request: Kubernetes names or empty ({@link PodRef#validated}), else INVALID_CONFIG. */
  public static PodRef requestedPod(io.jipam.api.v1.PodRef pod) {
    return PodRef.validated(pod.getNamespace(), pod.getName(), "pod.namespace", "pod.name", ErrorCode.INVALID_CONFIG);
  }

  public static io.jipam.api.v1.Allocation allocation(Allocation a) {
    return io.jipam.api.v1.Allocation.newBuilder()
        .setAddress(a.address().toString())
        .setRangeSetIndex(a.rangeSetIndex())
        .setAttachment(attachment(a.attachment()))
        .setPod(pod(a.pod()))
        .build();
  }

  public static Allocation allocation(io.jipam.api.v1.Allocation a) {
    try {
      return new Allocation(address(a.getAddress(), "allocation address"), a.getRangeSetIndex(),
          attachment(a.getAttachment()), pod(a.getPod()));
    } catch (IllegalArgumentException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "bad allocation " + a + ": " + e.getMessage(), e);
    }
  }

  public static List<io.jipam.api.v1.Allocation> allocations(List<Allocation> list) {
    List<io.jipam.api.v1.Allocation> out = new ArrayList<>(list.size());
    for (Allocation a : list) {
      out.add(allocation(a));
    }
    return out;
  }

  public static List<Allocation> fromAllocations(List<io.jipam.api.v1.Allocation> list) {
    List<Allocation> out = new ArrayList<>(list.size());
    for (io.jipam.api.v1.Allocation a : list) {
      out.add(allocation(a));
    }
    return out;
  }

  public static AllocateResponse outcome(AllocationOutcome outcome) {
    AllocateResponse.Builder b = AllocateResponse.newBuilder();
    if (outcome instanceof AllocationOutcome.Allocated a) {
      b.setAllocated(Allocated.newBuilder().addAllAllocations(allocations(a.allocations())).setExisting(a.existing()));
    } else if (outcome instanceof AllocationOutcome.Taken t) {
      b.setTaken(Taken.newBuilder().setAddress(t.address().toString()).setHolder(attachment(t.holder())));
    } else if (outcome instanceof AllocationOutcome.Unavailable u) {
      b.setUnavailable(Unavailable.newBuilder().setAddress(u.address().toString()).setReason(u.reason()));
    } else if (outcome instanceof AllocationOutcome.Exhausted e) {
      b.setExhausted(Exhausted.newBuilder().setRangeSetIndex(e.rangeSetIndex()));
    } else {
      throw new IpamException(ErrorCode.INTERNAL, "unknown allocation outcome " + outcome);
    }
    return b.build();
  }

  public static AllocationOutcome outcome(AllocateResponse r) {
    return switch (r.getOutcomeCase()) {
      case ALLOCATED -> new AllocationOutcome.Allocated(fromAllocations(r.getAllocated().getAllocationsList()),
          r.getAllocated().getExisting());
      case TAKEN -> new AllocationOutcome.Taken(address(r.getTaken().getAddress(), "taken address"),
          attachment(r.getTaken().getHolder()));
      case UNAVAILABLE -> new AllocationOutcome.Unavailable(
          address(r.getUnavailable().getAddress(), "unavailable address"), r.getUnavailable().getReason());
      case EXHAUSTED -> new AllocationOutcome.Exhausted(r.getExhausted().getRangeSetIndex());
      case OUTCOME_NOT_SET -> throw new IpamException(ErrorCode.DECODE_FAILURE,
          "jipamd answered Allocate without an outcome");
    };
  }

  public static List<RangeSetUsage> usage(PoolUsage usage) {
    List<RangeSetUsage> out = new ArrayList<>();
    for (int i = 0; i < usage.allocated().size(); i++) {
      out.add(RangeSetUsage.newBuilder().setIndex(i).setAllocated(usage.allocated().get(i))
          .setFree(usage.free().get(i)).build());
    }
    return out;
  }

  public static PoolUsage usage(List<RangeSetUsage> sets) {
    List<Long> allocated = new ArrayList<>();
    List<Long> free = new ArrayList<>();
    for (RangeSetUsage u : sets) {
      allocated.add(u.getAllocated());
      free.add(u.getFree());
    }
    return new PoolUsage(allocated, free);
  }
}
