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
import io.jipam.core.store.capability.BlockUsage;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.NodeUsage;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.AllocateResponse;
import io.jipam.api.v1.Blocks;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ListResponse;
import io.jipam.api.v1.PoolInfo;
import io.jipam.api.v1.UsageResponse;
import io.jipam.api.v1.PoolAllocations;
import io.jipam.api.v1.ReclaimNodeRequest;
import io.jipam.api.v1.ReclaimNodeResponse;
import io.jipam.api.v1.Allocated;
import io.jipam.api.v1.Exhausted;
import io.jipam.api.v1.Order;
import io.jipam.api.v1.Range;
import io.jipam.api.v1.RangeSetUsage;
import io.jipam.api.v1.Taken;
import io.jipam.api.v1.Unavailable;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts between the store's value types and the {@code jipam.v1} messages, both ways and
 * without loss: every field of a core value has a field in its message. Decoding validates as the
 * core constructors do, so a malformed field becomes an {@link IpamException} naming it
 * ({@code INVALID_CONFIG}), never a half-built value.
 *
 * <p>Length: about 480 lines, as one class on purpose: one short method each way per message (17
 * pairs), and the two directions of a message are read and changed together when a field is
 * added; both ends of the wire (the client's {@code RemoteStore} and jipamd's endpoint) use the
 * same methods, so no field can be mapped on one side only.
 */
public final class WireMapping {
  private WireMapping() {}

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
    io.jipam.api.v1.AddressPolicy policy = ClaimWire.policy(pool.policy());
    if (policy != null) {
      b.setPolicy(policy);
    }
    return b.build();
  }

  public static Pool pool(io.jipam.api.v1.Pool message) {
    if (message == null || message.getName().isEmpty()) {
      throw IpamException.invalidConfig("request has no pool name");
    }
    if (!Pool.isName(message.getName())) { // first: the name is in every message below
      throw IpamException.invalidConfig("invalid network name \"%s\": it must start with a letter or digit followed"
          + " by letters, digits, '_', '.' or '-'", io.jipam.core.store.Printable.escape(message.getName()));
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
    return new Pool(message.getName(), sets, order, ClaimWire.policy(message));
  }

  public static IpAddress address(String text, String field) {
    IpAddress a = IpAddress.tryParse(text);
    if (a == null) {
      throw IpamException.invalidConfig("%s \"%s\" is not an IP address", field, io.jipam.core.store.Printable.escape(text));
    }
    return a;
  }

  /**
   * A request's network filter (ListPools' {@code network}): null when empty (every network), else
   * a network name ({@link Pool#requireNetworkName}: INVALID_CONFIG naming it, escaped, when it is
   * none).
   */
  public static String networkFilter(String network) {
    return network.isEmpty() ? null : Pool.requireNetworkName(network);
  }

  /**
   * The other pool of an answer (Taken's, InUse's): null when empty (the pool asked for), else a
   * pool name; {@code whose} names the answer's address in the refusal ("taken address's").
   */
  static String otherPool(String pool, String whose) {
    if (pool.isEmpty()) {
      return null;
    }
    if (!io.jipam.core.store.Pool.isName(pool)) {
      throw IpamException.invalidConfig("%s pool \"%s\" is not a pool name", whose,
          io.jipam.core.store.Printable.escape(pool));
    }
    return pool;
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
    io.jipam.api.v1.Allocation.Builder b = io.jipam.api.v1.Allocation.newBuilder()
        .setAddress(a.address().toString())
        .setRangeSetIndex(a.rangeSetIndex())
        .setAttachment(attachment(a.attachment()))
        .setPod(pod(a.pod()));
    if (a.origin() != null) {
      b.setOrigin(ClaimWire.origin(a.origin()));
    }
    return b.build();
  }

  public static Allocation allocation(io.jipam.api.v1.Allocation a) {
    try {
      return new Allocation(address(a.getAddress(), "allocation address"), a.getRangeSetIndex(),
          attachment(a.getAttachment()), pod(a.getPod()), ClaimWire.recordedOrigin(a.getOrigin()));
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
      Allocated.Builder ab = Allocated.newBuilder().addAllAllocations(allocations(a.allocations())).setExisting(a.existing());
      a.origins().forEach(o -> ab.addOrigins(ClaimWire.origin(o)));
      b.setAllocated(ab);
    } else if (outcome instanceof AllocationOutcome.Taken t) {
      Taken.Builder tb = Taken.newBuilder().setAddress(t.address().toString()).setHolder(attachment(t.holder()));
      if (t.pool() != null) {
        tb.setPool(t.pool());
      }
      b.setTaken(tb);
    } else if (outcome instanceof AllocationOutcome.Unavailable u) {
      b.setUnavailable(Unavailable.newBuilder().setAddress(u.address().toString()).setReason(u.reason()));
    } else if (outcome instanceof AllocationOutcome.Exhausted e) {
      b.setExhausted(Exhausted.newBuilder().setRangeSetIndex(e.rangeSetIndex()).setClaimed(e.claimed()));
    } else {
      throw new IpamException(ErrorCode.INTERNAL, "unknown allocation outcome " + outcome);
    }
    return b.build();
  }

  public static AllocationOutcome outcome(AllocateResponse r) {
    return switch (r.getOutcomeCase()) {
      case ALLOCATED -> new AllocationOutcome.Allocated(fromAllocations(r.getAllocated().getAllocationsList()),
          r.getAllocated().getExisting(), ClaimWire.origins(r.getAllocated()));
      case TAKEN -> new AllocationOutcome.Taken(address(r.getTaken().getAddress(), "taken address"),
          attachment(r.getTaken().getHolder()), otherPool(r.getTaken().getPool(), "taken address's"));
      case UNAVAILABLE -> new AllocationOutcome.Unavailable(
          address(r.getUnavailable().getAddress(), "unavailable address"), r.getUnavailable().getReason());
      case EXHAUSTED -> new AllocationOutcome.Exhausted(r.getExhausted().getRangeSetIndex(),
          Math.max(0, r.getExhausted().getClaimed())); // a count, never below 0 whatever the other side sends
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

  /** The blocks of a Usage answer: each block, and per owning node and range set their sums. */
  public static Blocks blocks(List<BlockUsage> blocks) {
    Blocks.Builder out = Blocks.newBuilder();
    for (BlockUsage b : blocks) {
      out.addBlocks(io.jipam.api.v1.BlockUsage.newBuilder().setRangeSetIndex(b.rangeSet())
          .setCidr(b.block().toString()).setNode(b.owner()).setAllocated(b.used()).setFree(b.free()));
    }
    for (NodeUsage n : NodeUsage.of(blocks)) {
      out.addNodes(io.jipam.api.v1.NodeUsage.newBuilder().setNode(n.node()).setRangeSetIndex(n.rangeSet()).setBlocks(n.blocks())
          .setAllocated(n.used()).setFree(n.free()));
    }
    return out.build();
  }

  /** A Usage answer: per range set, and the blocks when the status has them. */
  public static UsageResponse usageResponse(PoolStatus status) {
    UsageResponse.Builder out = UsageResponse.newBuilder().addAllRangeSets(usage(status.usage()));
    if (status.hasBlocks()) {
      out.setBlocks(blocks(status.blocks()));
    }
    return out.build();
  }

  /** The status of {@code pool} a Usage answer gives (the per-node sums are the blocks'). */
  public static PoolStatus status(Pool pool, UsageResponse r) {
    return status(pool, r.getRangeSetsList(), r.hasBlocks() ? r.getBlocks() : null);
  }

  /** A pool of a ListPools answer: the pool, its usage, its blocks when the status has them. */
  public static PoolInfo poolInfo(PoolStatus status) {
    PoolInfo.Builder out = PoolInfo.newBuilder().setPool(pool(status.pool())).addAllUsage(usage(status.usage()));
    if (status.hasBlocks()) {
      out.setBlocks(blocks(status.blocks()));
    }
    return out.build();
  }

  /** A pool of a ListPools answer, decoded. */
  public static PoolStatus status(PoolInfo info) {
    return status(pool(info.getPool()), info.getUsageList(), info.hasBlocks() ? info.getBlocks() : null);
  }

  /** A sub-pool's network and selectors, for ListPools ({@code PoolInfo.sub_pool}); the pool itself is beside it. */
  public static io.jipam.api.v1.SubPool subPool(io.jipam.core.cni.SubPool sub) {
    io.jipam.api.v1.SubPool.Builder out = io.jipam.api.v1.SubPool.newBuilder().setNetwork(sub.network())
        .setName(sub.name()).setIndex(sub.index()).addAllNamespaces(sub.namespaces()).addAllNodes(sub.nodes())
        .setDefaultPool(sub.defaultPool() == null ? "" : sub.defaultPool());
    sub.pods().forEach(p -> out.addPods(p.toString()));
    return out.build();
  }

  /** The sub-pool a ListPools answer names for its pool; null when the pool is no sub-pool (or not known as one). */
  public static io.jipam.core.cni.SubPool subPool(PoolInfo info) {
    if (!info.hasSubPool()) {
      return null;
    }
    Pool pool = pool(info.getPool());
    try {
      return subPool(pool, info.getSubPool());
    } catch (IllegalArgumentException | IpamException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "jipamd answered a bad sub-pool of pool "
          + io.jipam.core.store.Printable.quote(pool.name()) + ": " + e.getMessage(), e);
    }
  }

  /**
   * The sub-pool an Allocate request says its pool ({@code pool}, decoded) is; null when it says
   * none. {@code INVALID_CONFIG} naming the values when the message does not describe a sub-pool of
   * that pool (its network and name must make the pool's name).
   */
  public static io.jipam.core.cni.SubPool requestedSubPool(Pool pool, AllocateRequest request) {
    if (!request.hasSubPool()) {
      return null;
    }
    io.jipam.api.v1.SubPool m = request.getSubPool();
    String expected = io.jipam.core.cni.SubPool.poolName(m.getNetwork(), m.getName());
    if (!expected.equals(pool.name())) {
      throw IpamException.invalidConfig("sub_pool names network %s and sub-pool %s, which make pool %s; the request's"
          + " pool is %s", io.jipam.core.store.Printable.quote(m.getNetwork()),
          io.jipam.core.store.Printable.quote(m.getName()), io.jipam.core.store.Printable.quote(expected),
          io.jipam.core.store.Printable.quote(pool.name()));
    }
    if (!m.getDefaultPool().isEmpty() && !m.getDefaultPool().equals(m.getNetwork())) {
      throw IpamException.invalidConfig("sub_pool of pool %s names default pool %s; a network's default pool is"
          + " the network itself (%s) or none", io.jipam.core.store.Printable.quote(pool.name()),
          io.jipam.core.store.Printable.quote(m.getDefaultPool()), io.jipam.core.store.Printable.quote(m.getNetwork()));
    }
    try {
      io.jipam.core.cni.SubPools.checkSelectors("sub_pool", m.getNamespacesList(), m.getPodsCount(), m.getNodesList());
      return subPool(pool, m);
    } catch (IllegalArgumentException | IpamException e) {
      throw IpamException.invalidConfig("sub_pool of pool %s: %s", io.jipam.core.store.Printable.quote(pool.name()),
          e.getMessage());
    }
  }

  private static io.jipam.core.cni.SubPool subPool(Pool pool, io.jipam.api.v1.SubPool m) {
    if (Integer.compareUnsigned(m.getIndex(), io.jipam.core.cni.SubPools.MAX_SUB_POOLS) >= 0) {
      // uint32 on the wire: shown as sent, not as Java's negative int
      throw new IllegalArgumentException("sub_pool.index " + Integer.toUnsignedString(m.getIndex())
          + " is not below " + io.jipam.core.cni.SubPools.MAX_SUB_POOLS + ", a network's most sub-pools");
    }
    List<io.jipam.core.store.PodPattern> pods = new ArrayList<>();
    for (String p : m.getPodsList()) {
      pods.add(io.jipam.core.store.PodPattern.parse(p));
    }
    return new io.jipam.core.cni.SubPool(m.getName(), pool, m.getNamespacesList(), pods, m.getNodesList(),
        m.getIndex(), m.getDefaultPool().isEmpty() ? null : m.getDefaultPool());
  }

  private static PoolStatus status(Pool pool, List<RangeSetUsage> usage, Blocks blocks) {
    try {
      return new PoolStatus(pool, usage(usage), blocks == null ? null : blocks(blocks));
    } catch (IllegalArgumentException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "jipamd answered a bad usage of pool "
          + io.jipam.core.store.Printable.quote(pool.name()) + ": " + e.getMessage(), e);
    }
  }

  /** A List request for one page of {@code pool}: the filter, the size, the position as token. */
  public static ListRequest listRequest(Pool pool, ListPages.Filter filter, IpAddress after, int size) {
    return ListRequest.newBuilder().setPool(pool(pool)).setContainerId(filter.containerId())
        .setIfname(filter.ifname()).setPodNamespace(filter.podNamespace()).setPodName(filter.podName())
        .setNode(filter.node()).setPageSize(size).setPageToken(after == null ? "" : after.toString()).build();
  }

  /** The filter of a List request. */
  public static ListPages.Filter filter(ListRequest r) {
    return new ListPages.Filter(r.getContainerId(), r.getIfname(), r.getPodNamespace(), r.getPodName(), r.getNode());
  }

  /** A List answer: the page's allocations with their nodes, the next position as token. */
  public static ListResponse listResponse(ListPages.Page page) {
    ListResponse.Builder out = ListResponse.newBuilder();
    for (ListPages.Listed l : page.allocations()) {
      out.addAllocations(allocation(l.allocation()).toBuilder().setNode(l.node()));
    }
    return out.setNextPageToken(page.next() == null ? "" : page.next().toString()).build();
  }

  /** A List answer, decoded (validated as the core types are). */
  public static ListPages.Page page(ListResponse r) {
    List<ListPages.Listed> listed = new ArrayList<>(r.getAllocationsCount());
    for (io.jipam.api.v1.Allocation a : r.getAllocationsList()) {
      listed.add(new ListPages.Listed(allocation(a), a.getNode()));
    }
    return new ListPages.Page(listed, r.getNextPageToken().isEmpty() ? null
        : address(r.getNextPageToken(), "next_page_token"));
  }

  /** The blocks of a Usage answer, decoded (validated as {@link BlockUsage} is). */
  public static List<BlockUsage> blocks(Blocks message) {
    List<BlockUsage> out = new ArrayList<>();
    for (io.jipam.api.v1.BlockUsage b : message.getBlocksList()) {
      out.add(new BlockUsage(b.getRangeSetIndex(), cidr(b.getCidr()), b.getNode(), b.getAllocated(),
          b.getAllocated() + b.getFree()));
    }
    return out;
  }

  private static Cidr cidr(String text) {
    try {
      return Cidr.parse(text);
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "jipamd answered a block that is not a CIDR: "
          + io.jipam.core.store.Printable.quote(text));
    }
  }

  /** A ReclaimNode request for {@code node} under {@code policy}; the caller sets {@code dry_run}. */
  public static ReclaimNodeRequest.Builder reclaimRequest(String node, ReclaimPolicy policy) {
    return ReclaimNodeRequest.newBuilder().setNode(node).setForce(policy.force())
        .setQuietPeriodSeconds((int) Math.min(policy.quietPeriod().toSeconds(), 0xFFFF_FFFFL));
  }

  /** The policy a ReclaimNode request asks for: quiet period 0 is the default one. */
  public static ReclaimPolicy policy(ReclaimNodeRequest r) {
    return new ReclaimPolicy(r.getQuietPeriodSeconds() == 0 ? ReclaimPolicy.DEFAULT_QUIET_PERIOD
        : Duration.ofSeconds(Integer.toUnsignedLong(r.getQuietPeriodSeconds())), r.getForce());
  }

  /** A reclaim's report as ReclaimNode answers it. */
  public static ReclaimNodeResponse report(ReclaimReport report) {
    return released(report.released()).setLastSeen(time(report.lastSeen())).setForced(report.forced())
        .setLooksAlive(report.forced()).setBlocksDeleted(report.blocksDeleted())
        .setBlocksOrphaned(report.blocksOrphaned()).setAffinitiesRemoved(report.affinitiesRemoved()).build();
  }

  /** A reclaim's dry run as ReclaimNode answers it, {@code would_refuse} under {@code policy}. */
  public static ReclaimNodeResponse preview(ReclaimPreview p, ReclaimPolicy policy) {
    return released(p.held()).setDryRun(true).setLastSeen(time(p.lastSeen())).setLooksAlive(p.looksAlive())
        .setFenced(p.fenced()).setWouldRefuse(p.refused(policy))
        .setForced(p.looksAlive() && !p.fenced() && policy.force()).build();
  }

  /** The report of a ReclaimNode answer for {@code node}. */
  public static ReclaimReport report(String node, ReclaimNodeResponse r) {
    return new ReclaimReport(node, time(r.getLastSeen()), r.getForced(), released(r), r.getBlocksDeleted(),
        r.getBlocksOrphaned(), r.getAffinitiesRemoved());
  }

  /** The dry run of a ReclaimNode answer (dry_run set) for {@code node}. */
  public static ReclaimPreview preview(String node, ReclaimNodeResponse r) {
    return new ReclaimPreview(node, time(r.getLastSeen()), r.getLooksAlive(), r.getFenced(), released(r));
  }

  private static ReclaimNodeResponse.Builder released(Map<String, List<Allocation>> byPool) {
    ReclaimNodeResponse.Builder out = ReclaimNodeResponse.newBuilder();
    byPool.forEach((pool, list) ->
        out.addReleased(PoolAllocations.newBuilder().setPool(pool).addAllAllocations(allocations(list))));
    return out;
  }

  private static Map<String, List<Allocation>> released(ReclaimNodeResponse r) {
    Map<String, List<Allocation>> out = new LinkedHashMap<>();
    for (PoolAllocations p : r.getReleasedList()) {
      out.put(p.getPool(), fromAllocations(p.getAllocationsList()));
    }
    return out;
  }

  private static String time(Instant at) {
    return at == null ? "" : at.toString();
  }

  private static Instant time(String text) {
    try {
      return text.isEmpty() ? null : Instant.parse(text);
    } catch (DateTimeParseException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "jipamd answered a time that is not RFC 3339: "
          + io.jipam.core.store.Printable.quote(text));
    }
  }
}
