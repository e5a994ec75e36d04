package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.AddressWithPrefix;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.capability.KeptPools;
import io.jipam.core.store.spi.RequestedAddresses;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Runs one CNI command against a store: the IPAM semantics shared by the one-shot plugin and the
 * service. Stateless and thread-safe; atomicity is the store's.
 *
 * <table>
 *   <caption>Commands</caption>
 *   <tr><th>command</th><th>what it does</th><th>output</th></tr>
 *   <tr><td>ADD</td><td>one address per range set; a repeated ADD returns the held addresses</td><td>result</td></tr>
 *   <tr><td>DEL</td><td>releases the attachment's addresses; succeeds when there are none</td><td>nothing</td></tr>
 *   <tr><td>CHECK (0.4.0+)</td><td>error 3 when nothing is held (without prevResult: when a range set holds nothing), 102 when prevResult disagrees</td><td>nothing</td></tr>
 *   <tr><td>GC (1.1.0+)</td><td>releases every allocation whose attachment is not in the valid list</td><td>nothing</td></tr>
 *   <tr><td>STATUS (1.1.0+)</td><td>error 50 when some range set has no free address (with sub-pools: of the default pool; without one, of every sub-pool)</td><td>nothing</td></tr>
 * </table>
 *
 * <p>A network with sub-pools ({@link NetworkPools}) has several store pools: ADD picks one by
 * the pod and node, unless the attachment already holds addresses in another pool of the network
 * (its first ADD chose that one): then it returns those, as a repeated ADD; the other commands
 * cover them all.
 */
public final class CniHandler {
  private static final byte[] NO_OUTPUT = new byte[0];

  private CniHandler() {}

  /**
   * Checks that the config's cniVersion allows the command: CHECK needs 0.4.0, GC and STATUS
   * 1.1.0. Call before opening a store.
   *
   * @throws IpamException {@code INCOMPATIBLE_VERSION}
   */
  public static void checkVersion(CniCommand command, CniVersion version) {
    boolean ok = switch (command) {
      case CHECK -> version.supportsCheck();
      case GC, STATUS -> version.isAtLeast1_1();
      default -> true;
    };
    if (!ok) {
      throw new IpamException(ErrorCode.INCOMPATIBLE_VERSION, command + " is not defined for cniVersion "
          + version + "; it needs " + (command == CniCommand.CHECK ? "0.4.0" : "1.1.0") + " or later");
    }
  }

  /**
   * Runs the command and returns what the plugin prints on success (empty for all but ADD), with
   * sub-pool node selectors matching this host's node name ({@link LocalNode} of the process
   * environment).
   *
   * @throws IpamException whatever went wrong, with the code the plugin exits with
   */
  public static byte[] handle(CniEnvironment env, NetworkConfig config, IpamStore store) {
    return handle(env, config, store, new LocalNode(config, System.getenv()));
  }

  /**
   * The node name the plugin runs on, when it runs without jipamd: the etcd store's {@code node}
   * when the config sets one, else {@link NodeName#local} of the environment (null when neither
   * is a node name). A class, not a lambda: the one-shot plugin pays for every bootstrap.
   */
  public static final class LocalNode implements Supplier<String> {
    private final NetworkConfig config;
    private final Map<String, String> env;

    public LocalNode(NetworkConfig config, Map<String, String> env) {
      this.config = config;
      this.env = env;
    }

    @Override
    public String get() {
      Map<String, Object> store = config.ipam().store();
      if (store != null && store.get("node") instanceof String node && !node.isBlank()) {
        return NodeName.isValid(node) ? node : null;
      }
      return NodeName.local(env);
    }
  }

  /**
   * Runs the command; {@code node} names the node for sub-pool node selectors (asked only when a
   * sub-pool has some; null when unknown). ADD allocates from the pool {@link NetworkPools#select}
   * picks, or returns what the attachment holds in another pool of the network; DEL, CHECK and GC cover every pool of the network; STATUS fails when the default pool
   * (without one: every sub-pool) has a range set with no free address.
   *
   * @throws IpamException whatever went wrong, with the code the plugin exits with
   */
  public static byte[] handle(CniEnvironment env, NetworkConfig config, IpamStore store, Supplier<String> node) {
    return run(env, config, store, node).output();
  }

  /**
   * What one call did, for callers that log it (jipamd's call log and metrics).
   *
   * @param output what the plugin prints
   * @param pool for ADD, the pool it allocated from (a sub-pool's, or the default); else null
   * @param origins for ADD, why the attachment got each address ({@link AllocationOrigin}); else
   *     empty
   */
  public record Done(byte[] output, Pool pool, List<AllocationOrigin> origins) {
    public Done {
      origins = List.copyOf(origins);
    }
  }

  /** As {@link #handle(CniEnvironment, NetworkConfig, IpamStore, Supplier)}, saying what it did. */
  public static Done run(CniEnvironment env, NetworkConfig config, IpamStore store, Supplier<String> node) {
    checkVersion(env.command(), config.cniVersion());
    NetworkPools pools = config.ipam().pools();
    return switch (env.command()) {
      case ADD -> add(env, config, store, pools, pools.select(env.args().pod(), node));
      case DEL -> {
        List<Pool> named = pools.all();
        for (Pool pool : everyPool(store, pools)) {
          // a pool the config no longer names is looked into first: most DELs find nothing there,
          // and a read costs a store less than a release (the etcd store's writes a DEL marker)
          if (named.contains(pool) || !store.find(pool, env.attachment()).isEmpty()) {
            store.release(pool, env.attachment());
          }
        }
        yield done(NO_OUTPUT);
      }
      case CHECK -> done(check(env, config, store, pools));
      case GC -> {
        if (config.validAttachments() == null) {
          throw IpamException.invalidConfig(
              "GC needs the list of valid attachments in \"cni.dev/valid-attachments\"");
        }
        for (Pool pool : everyPool(store, pools)) {
          store.retainOnly(pool, config.validAttachments());
        }
        yield done(NO_OUTPUT);
      }
      case STATUS -> done(status(store, pools));
      case VERSION -> done(CniJson.versionInfo());
    };
  }

  /**
   * The pools of the network a DEL, GC, CHECK or repeated ADD looks in: the config's ({@link
   * NetworkPools#all}), then those the store keeps for the network that the config no longer names
   * ({@link KeptPools}: a sub-pool renamed or removed while it held addresses), so an attachment
   * the old config placed there is still found and released. The config's alone when the store
   * cannot say.
   */
  static List<Pool> everyPool(IpamStore store, NetworkPools pools) {
    List<Pool> all = pools.all();
    java.util.Optional<KeptPools> kept = store.capability(KeptPools.class);
    if (kept.isEmpty()) {
      return all;
    }
    java.util.Set<String> named = new java.util.HashSet<>();
    for (Pool p : all) {
      named.add(p.name());
    }
    List<Pool> more = kept.get().keptPools(pools.network(), named, all.get(0));
    if (more.isEmpty()) {
      return all;
    }
    List<Pool> out = new ArrayList<>(all);
    out.addAll(more);
    return out;
  }

  private static Done done(byte[] output) {
    return new Done(output, null, List.of());
  }

  private static Done add(CniEnvironment env, NetworkConfig config, IpamStore store, NetworkPools pools,
      Pool pool) {
    List<IpAddress> requested = new ArrayList<>(config.requestedIps());
    for (IpAddress ip : env.args().requestedIps()) {
      if (!requested.contains(ip)) {
        requested.add(ip);
      }
    }
    Attachment attachment = env.attachment();
    AllocationRequest request = new AllocationRequest(attachment, requested, env.args().pod());
    List<Pool> every = everyPool(store, pools);
    if (every.size() > 1) {
      Done again = heldInAnotherPool(config, store, every, pools.network(), pool, request);
      if (again != null) {
        return again;
      }
    }
    AllocationOutcome outcome = store.allocate(pool, request);
    if (outcome instanceof AllocationOutcome.Allocated allocated) {
      return new Done(CniJson.result(config.cniVersion(), CniResult.of(allocated.allocations(), pool, config.ipam())),
          pool, allocated.origins());
    }
    throw failure(outcome, pool);
  }

  /**
   * A network with other pools: the ADD of an attachment that already holds addresses in a pool of the
   * network other than {@code selected} (the pool its first ADD chose, before the sub-pools, the
   * selectors or the pod's namespace changed). It answers as a repeated ADD does: the addresses held
   * there, from that pool's ranges, writing nothing; so one attachment never holds addresses in two
   * pools of one network. The held addresses are returned as they are, even when they do not cover
   * every range set of {@code selected} (or of their own pool): the attachment moves to the newly
   * selected pool only through a DEL and a new ADD. A requested address must be one it holds (or
   * lie in a range set of its pool where it holds none), else the ADD is refused ({@code
   * ADDRESS_UNAVAILABLE}) naming what it holds and where. Null when it holds nothing elsewhere.
   *
   * <p>Costs one {@link IpamStore#find} per other pool of the network (those of the config and
   * those the store keeps, {@link #everyPool}); a network with one pool never comes here.
   */
  private static Done heldInAnotherPool(NetworkConfig config, IpamStore store, List<Pool> every, String network,
      Pool selected, AllocationRequest request) {
    for (Pool other : every) {
      if (other.name().equals(selected.name())) {
        continue;
      }
      List<Allocation> held = store.find(other, request.attachment());
      if (held.isEmpty()) {
        continue;
      }
      Allocation[] bySet = new Allocation[other.rangeSets().size()];
      for (Allocation a : held) {
        int set = a.rangeSetIndex();
        if (set >= 0 && set < bySet.length && bySet[set] == null) {
          bySet[set] = a;
        }
      }
      AllocationOutcome refused = RequestedAddresses.checkHeld(other, request, bySet);
      if (refused != null) {
        List<IpAddress> addresses = new ArrayList<>(held.size());
        for (Allocation a : held) {
          addresses.add(a.address());
        }
        throw new IpamException(ErrorCode.ADDRESS_UNAVAILABLE, failure(refused, other).getMessage() + "; "
            + request.attachment() + " holds " + addresses + " in pool " + other.name() + " of network "
            + network + ", which its first ADD chose: a DEL releases them, an ADD after it allocates"
            + " from pool " + selected.name());
      }
      AllocationOutcome.Allocated again = AllocationOutcome.Allocated.held(held);
      return new Done(CniJson.result(config.cniVersion(), CniResult.of(held, other, config.ipam())), other,
          again.origins());
    }
    return null;
  }

  /** The error for an allocation outcome that allocated nothing. */
  static IpamException failure(AllocationOutcome outcome, Pool pool) {
    if (outcome instanceof AllocationOutcome.Taken taken) {
      return new IpamException(ErrorCode.ADDRESS_UNAVAILABLE, "requested address " + taken.address()
          + " is already allocated to " + taken.holder() + (taken.pool() == null ? " in network " + pool.name()
          : " in pool " + taken.pool() + " of network " + Pool.networkOf(pool.name()) + ", whose pools share its addresses"));
    }
    if (outcome instanceof AllocationOutcome.Unavailable unavailable) {
      return new IpamException(ErrorCode.ADDRESS_UNAVAILABLE, unavailable.reason());
    }
    if (outcome instanceof AllocationOutcome.Exhausted exhausted) {
      long claimed = exhausted.claimed();
      return new IpamException(ErrorCode.POOL_EXHAUSTED, "no IP addresses available in range set "
          + exhausted.rangeSetIndex() + " " + pool.rangeSets().get(exhausted.rangeSetIndex())
          + " of network " + pool.name() + (claimed == 0 ? "" : "; " + claimed + (claimed == 1 ? " of them is" : " of them are")
          + " held for sticky pods or reserved for others, not allocated (jipamctl list, jipamctl reservations)"));
    }
    return new IpamException(ErrorCode.INTERNAL, "unexpected allocation outcome " + outcome);
  }

  private static byte[] check(CniEnvironment env, NetworkConfig config, IpamStore store, NetworkPools pools) {
    // the attachment's addresses are in the one pool its ADD chose; look in each
    Pool pool = null;
    List<Allocation> held = List.of();
    for (Pool candidate : everyPool(store, pools)) {
      held = store.find(candidate, env.attachment());
      if (!held.isEmpty()) {
        pool = candidate;
        break;
      }
    }
    if (held.isEmpty()) {
      throw new IpamException(ErrorCode.UNKNOWN_CONTAINER, "no address is allocated to "
          + env.attachment() + " in network " + config.name());
    }
    if (config.prevResult() == null) {
      // as host-local answers it: the attachment holds its addresses (here: one in every set)
      for (int i = 0; i < pool.rangeSets().size(); i++) {
        boolean found = false;
        for (Allocation a : held) {
          found |= a.rangeSetIndex() == i;
        }
        if (!found) {
          throw new IpamException(ErrorCode.UNKNOWN_CONTAINER, env.attachment() + " holds no address in range set "
              + i + " " + pool.rangeSets().get(i) + " of network " + pool.name());
        }
      }
      return NO_OUTPUT;
    }
    List<IpAddress> previous = new ArrayList<>();
    List<Object> ips = JsonFields.list(config.prevResult(), "ips", "prevResult");
    if (ips != null) {
      for (int i = 0; i < ips.size(); i++) {
        Map<String, Object> ip = JsonFields.asObject(ips.get(i), "prevResult.ips[" + i + "]");
        String address = JsonFields.string(ip, "address", "prevResult.ips[" + i + "]");
        if (address != null) {
          previous.add(AddressWithPrefix.parse(address).address());
        }
      }
    }
    for (Allocation a : held) {
      if (!previous.contains(a.address())) {
        throw new IpamException(ErrorCode.ALLOCATION_MISMATCH, env.attachment() + " holds "
            + a.address() + " in network " + pool.name() + " but prevResult lists " + previous);
      }
    }
    return NO_OUTPUT;
  }

  private static byte[] status(IpamStore store, NetworkPools pools) {
    try {
      store.capability(io.jipam.core.store.capability.Probe.class).ifPresent(io.jipam.core.store.capability.Probe::ping);
    } catch (IpamException e) {
      throw new IpamException(ErrorCode.NOT_AVAILABLE, "store not available: " + e.getMessage(), e);
    }
    List<Pool> checked = pools.defaultPool() != null ? List.of(pools.defaultPool()) : pools.all();
    IpamException last = null;
    for (Pool pool : checked) {
      IpamException full = exhausted(store, pool);
      if (full == null) {
        return NO_OUTPUT; // an ADD can still be served
      }
      last = full;
    }
    throw last;
  }

  /** Why the pool cannot serve an ADD (a range set with no free address), or null. */
  private static IpamException exhausted(IpamStore store, Pool pool) {
    PoolUsage usage;
    try {
      usage = store.usage(pool);
    } catch (IpamException e) {
      return new IpamException(ErrorCode.NOT_AVAILABLE, "store not available: " + e.getMessage(), e);
    }
    for (int i = 0; i < usage.free().size(); i++) {
      if (usage.free().get(i) == 0) {
        return new IpamException(ErrorCode.NOT_AVAILABLE, "range set " + i + " "
            + pool.rangeSets().get(i) + " of network " + pool.name() + " has no free address");
      }
    }
    return null;
  }
}
