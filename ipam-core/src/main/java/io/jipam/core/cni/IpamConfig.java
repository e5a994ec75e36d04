package io.jipam.core.cni;

import static io.jipam.core.cni.JsonFields.asObject;
import static io.jipam.core.cni.JsonFields.integer;
import static io.jipam.core.cni.JsonFields.list;
import static io.jipam.core.cni.JsonFields.object;
import static io.jipam.core.cni.JsonFields.string;

import io.jipam.core.IpamException;
import io.jipam.core.Limits;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.AddressWithPrefix;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.core.store.StickyRule;
import java.time.Duration;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code ipam} section of a network config, validated.
 *
 * <p>Accepts every key of the reference host-local ({@code ranges}, the legacy top-level {@code
 * subnet}/{@code rangeStart}/{@code rangeEnd}/{@code gateway}, {@code routes}, {@code resolvConf},
 * {@code dataDir}) so a conflist written for host-local works with only the type changed, plus
 * jipam's own:
 *
 * <table>
 *   <caption>jipam's own ipam keys</caption>
 *   <tr><th>key</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>{@code order}</td><td>{@code "round-robin"} or {@code "lowest-free"}</td><td>round-robin</td></tr>
 *   <tr><td>{@code exclude}</td><td>prefixes or addresses never handed out (also per range)</td><td>none</td></tr>
 *   <tr><td>{@code store}</td><td>where allocations live: {@code {"type": "host-local"}} (files under dataDir) or {@code {"type": "etcd", ...}}</td><td>host-local</td></tr>
 *   <tr><td>{@code logFile}</td><td>where the plugin logs; never stdout</td><td>none</td></tr>
 *   <tr><td>{@code sticky}</td><td>{@code {"pods": ["db/*"], "holdSeconds": 900, "maxHeldPercent": 25}}: pods whose addresses are held after DEL ({@link StickyRule})</td><td>none</td></tr>
 *   <tr><td>{@code reuseDelaySeconds}</td><td>how long a released address cools before another attachment gets it ({@link AddressPolicy})</td><td>0</td></tr>
 *   <tr><td>{@code subPools}</td><td>pools chosen by pod namespace, pod name and node ({@link SubPools})</td><td>none</td></tr>
 * </table>
 *
 * @param pool the default pool: the top-level ranges under the network's name; null when the
 *     network has {@code subPools} only
 * @param store the raw {@code store} object; null means the host-local file store
 * @param subPools the network's sub-pools ({@link SubPools}), in config order; empty for none
 * @param daemonAuto whether {@code daemon} is {@code "auto"}: the plugin then runs on this config's
 *     own store and data dir whenever jipamd's default socket is missing, so a jipamd serving the
 *     config checks that they are its own
 */
public record IpamConfig(String type, Pool pool, List<Route> routes, Dns dns, Path dataDir,
    Map<String, Object> store, String logFile, List<SubPool> subPools, boolean daemonAuto) {

  public static final Path DEFAULT_DATA_DIR = Path.of("/var/lib/cni/networks");
  /** Limits that keep one call's work bounded; a config beyond one fails at once (code 7). See {@link Limits}. */
  public static final int MAX_RANGE_SETS = Limits.MAX_RANGE_SETS;
  public static final int MAX_RANGES_PER_SET = Limits.MAX_RANGES_PER_SET;
  public static final int MAX_EXCLUDES = Limits.MAX_EXCLUDES;
  public static final int MAX_ROUTES = Limits.MAX_ROUTES;

  public IpamConfig {
    routes = List.copyOf(routes);
    subPools = subPools == null ? List.of() : List.copyOf(subPools);
  }

  /**
   * Whether reading this config read a file as well ({@code resolvConf}, into {@link #dns}): the same
   * config bytes may then read differently later, so a reader that keeps parsed configs must not keep
   * this one. ({@link #parse} uses {@link Dns#EMPTY} itself exactly when no {@code resolvConf} is named.)
   */
  public boolean readsFiles() {
    return dns != Dns.EMPTY;
  }

  /** The store type named by {@code store.type}: {@code host-local} when absent. */
  public String storeType() {
    Object type = store == null ? null : store.get("type");
    return type == null ? "host-local" : type.toString();
  }

  static IpamConfig parse(String networkName, Map<String, Object> ipam) {
    String where = "ipam";
    String type = string(ipam, "type", where);
    if (type == null || type.isEmpty()) {
      throw IpamException.invalidConfig("ipam.type is missing");
    }
    List<Cidr> commonExclude = excludes(ipam, where);
    List<RangeSet> sets = new ArrayList<>();
    if (ipam.get("subnet") != null) {
      sets.add(new RangeSet(List.of(range(ipam, where, commonExclude))));
    }
    sets.addAll(rangeSets(list(ipam, "ranges", where), where + ".ranges", commonExclude));
    List<Object> subPoolList = list(ipam, SubPools.KEY, where);
    if (sets.isEmpty() && (subPoolList == null || subPoolList.isEmpty())) {
      throw IpamException.invalidConfig(subPoolList == null ? "ipam has no ranges: set \"ranges\" or \"subnet\""
          : "ipam.subPools is empty and ipam has no ranges: list sub-pools, or set \"ranges\" or \"subnet\"");
    }
    AllocationOrder order = AllocationOrder.ROUND_ROBIN;
    String orderText = string(ipam, "order", where);
    if (orderText != null) {
      order = AllocationOrder.fromConfig(orderText);
      if (order == null) {
        throw IpamException.invalidConfig(
            "ipam.order %s is not \"round-robin\" or \"lowest-free\"", Printable.quote(orderText));
      }
    }
    // sub-pools keep addresses as the default pool does (the network's policy: sticky, reuse delay)
    AddressPolicy policy = policy(ipam, where);
    // without top-level ranges the network has sub-pools only: no default pool
    Pool pool = sets.isEmpty() ? null : new Pool(networkName, sets, order, policy);
    List<SubPool> subPools = SubPools.parse(networkName, subPoolList, pool, order, policy, commonExclude);

    List<Route> routes = new ArrayList<>();
    List<Object> routeList = list(ipam, "routes", where);
    cap("ipam.routes", "routes", routeList, MAX_ROUTES);
    if (routeList != null) {
      for (int i = 0; i < routeList.size(); i++) {
        String routeWhere = where + ".routes[" + i + "]";
        routes.add(route(asObject(routeList.get(i), routeWhere), routeWhere));
      }
    }
    String resolvConf = string(ipam, "resolvConf", where);
    Dns dns = resolvConf == null || resolvConf.isEmpty() ? Dns.EMPTY
        : Dns.fromResolvConf(path("resolvConf", resolvConf));
    String dataDir = string(ipam, "dataDir", where);
    Path dataPath = dataDir == null || dataDir.isEmpty() ? DEFAULT_DATA_DIR : path("dataDir", dataDir);
    String logFile = string(ipam, "logFile", where);
    if (logFile != null && !logFile.isEmpty()) {
      path("logFile", logFile);
    }
    Map<String, Object> store = object(ipam, "store", where);
    if (store != null) {
      string(store, "type", where + ".store");
    }
    // "auto": the plugin forwards while the default socket exists and runs on this config's own
    // store while it does not (the rest of the daemon section is the plugin's to read)
    boolean daemonAuto = "auto".equals(ipam.get("daemon"));
    return new IpamConfig(type, pool, routes, dns, dataPath, store, logFile, subPools, daemonAuto);
  }

  /**
   * The range sets of a {@code ranges} list (null: none), each checked ({@link RangeSet}) and its
   * errors prefixed with {@code where[s]}.
   */
  static List<RangeSet> rangeSets(List<Object> ranges, String where, List<Cidr> commonExclude) {
    List<RangeSet> sets = new ArrayList<>();
    cap(where, "range sets", ranges, MAX_RANGE_SETS);
    if (ranges != null) {
      for (int s = 0; s < ranges.size(); s++) {
        Object set = ranges.get(s);
        String setWhere = where + "[" + s + "]";
        if (!(set instanceof List<?> members) || members.isEmpty()) {
          throw IpamException.invalidConfig("%s must be a non-empty list of ranges", setWhere);
        }
        cap(setWhere, "ranges", members, MAX_RANGES_PER_SET);
        List<IpRange> rs = new ArrayList<>();
        for (int r = 0; r < members.size(); r++) {
          String rangeWhere = setWhere + "[" + r + "]";
          rs.add(range(asObject(members.get(r), rangeWhere), rangeWhere, commonExclude));
        }
        try {
          sets.add(new RangeSet(rs));
        } catch (IpamException e) {
          throw inContext(setWhere, e);
        }
      }
    }
    return sets;
  }

  /**
   * The network's pools: the default ({@link #pool}, null when the network has sub-pools only)
   * and its sub-pools, as {@link CniHandler} chooses among them.
   */
  public NetworkPools pools() {
    return new NetworkPools(pool, subPools);
  }

  /** The most pod patterns {@code sticky.pods} may list. */
  public static final int MAX_STICKY_PATTERNS = io.jipam.core.store.StickyRule.MAX_PODS;
  public static final long DEFAULT_HOLD_SECONDS = 900;

  /** {@code sticky} and {@code reuseDelaySeconds}: the pool's {@link AddressPolicy}. */
  private static AddressPolicy policy(Map<String, Object> ipam, String where) {
    Long delay = integer(ipam, "reuseDelaySeconds", where);
    Map<String, Object> sticky = object(ipam, "sticky", where);
    if (delay == null && sticky == null) {
      return AddressPolicy.NONE;
    }
    long maxDelay = AddressPolicy.MAX_REUSE_DELAY.toSeconds();
    if (delay != null && (delay < 0 || delay > maxDelay)) {
      throw IpamException.invalidConfig("ipam.reuseDelaySeconds %d is out of range: 0 to %d", delay, maxDelay);
    }
    return new AddressPolicy(sticky == null ? null : sticky(sticky, where + ".sticky"),
        Duration.ofSeconds(delay == null ? 0 : delay));
  }

  /** The keys of {@code sticky}: any other is refused, as a misspelt one would silently take its default. */
  private static final java.util.Set<String> STICKY_KEYS = java.util.Set.of("pods", "holdSeconds", "maxHeldPercent");

  private static StickyRule sticky(Map<String, Object> sticky, String where) {
    for (String key : sticky.keySet()) {
      if (!STICKY_KEYS.contains(key)) {
        throw IpamException.invalidConfig("%s: unknown key %s; sticky has pods, holdSeconds and maxHeldPercent",
            where, Printable.quote(key));
      }
    }
    List<Object> raw = list(sticky, "pods", where);
    if (raw == null || raw.isEmpty()) {
      throw IpamException.invalidConfig("%s.pods is missing or empty: name at least one pod pattern, e.g. \"db/*\"",
          where);
    }
    cap(where + ".pods", "patterns", raw, MAX_STICKY_PATTERNS);
    List<PodPattern> pods = new ArrayList<>();
    for (int i = 0; i < raw.size(); i++) {
      if (!(raw.get(i) instanceof String text)) {
        throw IpamException.invalidConfig("%s.pods entries must be strings, not %s", where,
            JsonFields.describe(raw.get(i)));
      }
      try {
        pods.add(PodPattern.parse(text));
      } catch (IpamException e) {
        throw inContext(where + ".pods[" + i + "]", e);
      }
    }
    Long hold = integer(sticky, "holdSeconds", where);
    long maxHold = StickyRule.MAX_HOLD.toSeconds();
    if (hold != null && (hold < 1 || hold > maxHold)) {
      throw IpamException.invalidConfig("%s.holdSeconds %d is out of range: 1 to %d", where, hold, maxHold);
    }
    Long percent = integer(sticky, "maxHeldPercent", where);
    if (percent != null && (percent < 1 || percent > 100)) {
      throw IpamException.invalidConfig("%s.maxHeldPercent %d is out of range: 1 to 100", where, percent);
    }
    return new StickyRule(pods, Duration.ofSeconds(hold == null ? DEFAULT_HOLD_SECONDS : hold),
        percent == null ? StickyRule.DEFAULT_MAX_HELD_PERCENT : percent.intValue());
  }

  /**
   * A path from the config: refused with {@code INVALID_CONFIG} naming the key when it holds a
   * NUL or cannot be a file name in the JVM's file-name charset (the launchers run the JVM under
   * {@code LC_ALL=C.UTF-8}, where every config string can).
   */
  private static Path path(String key, String text) {
    if (text.indexOf('\0') >= 0) {
      throw IpamException.invalidConfig("ipam.%s %s contains a NUL character", key, Printable.quote(text));
    }
    try {
      return Path.of(text);
    } catch (InvalidPathException e) {
      throw IpamException.invalidConfig("ipam.%s %s cannot be a file name in charset %s: %s",
          key, Printable.quote(text), System.getProperty("sun.jnu.encoding"), e.getReason());
    }
  }

  private static IpRange range(Map<String, Object> r, String where, List<Cidr> commonExclude) {
    try {
      String subnet = string(r, "subnet", where);
      if (subnet == null) {
        throw IpamException.invalidConfig("subnet is missing");
      }
      List<Cidr> exclude = new ArrayList<>(commonExclude);
      exclude.addAll(excludes(r, where));
      if (exclude.size() > MAX_EXCLUDES) {
        throw IpamException.invalidConfig("%s has %d excludes with ipam.exclude; jipam allows at most %d",
            where, exclude.size(), MAX_EXCLUDES);
      }
      return IpRange.withDefaults(Cidr.parse(subnet), address(r, "rangeStart", where),
          address(r, "rangeEnd", where), address(r, "gateway", where), exclude);
    } catch (IpamException e) {
      throw inContext(where, e);
    }
  }

  private static List<Cidr> excludes(Map<String, Object> from, String where) {
    List<Object> raw = list(from, "exclude", where);
    cap(where + ".exclude", "entries", raw, MAX_EXCLUDES);
    List<Cidr> out = new ArrayList<>();
    if (raw != null) {
      for (Object x : raw) {
        if (!(x instanceof String s)) {
          throw IpamException.invalidConfig("%s.exclude entries must be strings, not %s", where,
              JsonFields.describe(x));
        }
        out.add(Cidr.parse(s));
      }
    }
    return out;
  }

  private static IpAddress address(Map<String, Object> from, String key, String where) {
    String text = string(from, key, where);
    if (text == null || text.isEmpty()) {
      return null;
    }
    IpAddress a = IpAddress.tryParse(text);
    if (a == null) {
      throw IpamException.invalidConfig("%s %s is not an IP address", key, Printable.quote(text));
    }
    return a;
  }

  private static Route route(Map<String, Object> r, String where) {
    String dst = string(r, "dst", where);
    if (dst == null) {
      throw IpamException.invalidConfig("%s.dst is missing", where);
    }
    AddressWithPrefix parsedDst;
    try {
      parsedDst = AddressWithPrefix.parse(dst);
    } catch (IpamException e) {
      throw inContext(where + ".dst", e);
    }
    if (parsedDst.isHostOnly() && dst.indexOf('/') < 0) {
      throw IpamException.invalidConfig("%s.dst %s is not a prefix (address/length)", where, Printable.quote(dst));
    }
    String gw = string(r, "gw", where);
    IpAddress gateway = null;
    if (gw != null && !gw.isEmpty()) {
      gateway = IpAddress.tryParse(gw);
      if (gateway == null) {
        throw IpamException.invalidConfig("%s.gw %s is not an IP address", where, Printable.quote(gw));
      }
    }
    return new Route(parsedDst, gateway, integer(r, "mtu", where), integer(r, "advmss", where),
        integer(r, "priority", where), integer(r, "table", where), integer(r, "scope", where));
  }

  private static void cap(String where, String what, List<?> list, int max) {
    if (list != null) {
      Limits.check(where, what, list.size(), max);
    }
  }

  /** The error with where in the config it happened in front of its message. */
  static IpamException inContext(String where, IpamException e) {
    return e.getMessage().startsWith(where) ? e : new IpamException(e.code(), where + ": " + e.getMessage(), e);
  }
}
