package io.jipam.core.cni;

import static io.jipam.core.cni.JsonFields.asObject;
import static io.jipam.core.cni.JsonFields.list;
import static io.jipam.core.cni.JsonFields.string;

import io.jipam.core.IpamException;
import io.jipam.core.Limits;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.Overlap;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code ipam.subPools} key: pools chosen by pod namespace, pod name and node.
 *
 * <pre>
 * "subPools": [
 *   {"name": "db", "ranges": [[{"subnet": "198.18.4.0/24"}]], "namespaces": ["db-*"]},
 *   {"name": "edge", "ranges": [[{"subnet": "198.18.5.0/24"}]], "pods": ["*&#47;web-*"], "nodes": ["edge-*"]}
 * ]
 * </pre>
 *
 * <p>Each entry becomes one store {@link Pool} named {@code <network>+<name>} ({@link
 * SubPool#poolName}), so every store keeps a sub-pool as it keeps any pool (a file store's data dir
 * has a folder per sub-pool); a network name cannot hold {@code +}, so no network's pool is ever a
 * sub-pool's. It takes the
 * network's {@code order}, {@code exclude} and address policy. An ADD takes the first sub-pool
 * that matches the pod ({@link SubPool#matches}), else the network's own ranges (the default
 * pool); see {@link NetworkPools}.
 *
 * <p>Checked here, each failure {@code INVALID_CONFIG} (CNI code 7) naming the entry and the
 * value: a missing or unsafe name, a name used twice, missing ranges, a bad glob, an unknown key
 * (a misspelt selector would otherwise match every pod), and ranges that overlap another
 * sub-pool's or the network's own. Stateless.
 */
public final class SubPools {
  /** The config key. */
  public static final String KEY = "subPools";
  /** Sub-pools of one network, and entries of one selector list. */
  public static final int MAX_SUB_POOLS = 64;
  public static final int MAX_SELECTORS = 256;
  private static final Set<String> KEYS = Set.of("name", "ranges", "namespaces", "pods", "nodes");

  private SubPools() {}

  /**
   * The sub-pools of {@code entries} (null: none), checked against each other and against the
   * network's default pool ({@code defaultPool}, null when it has none).
   */
  static List<SubPool> parse(String network, List<Object> entries, Pool defaultPool, AllocationOrder order,
      AddressPolicy policy, List<Cidr> commonExclude) {
    if (entries == null) {
      return List.of();
    }
    String where = "ipam." + KEY;
    Limits.check(where, "sub-pools", entries.size(), MAX_SUB_POOLS);
    List<SubPool> out = new ArrayList<>();
    Map<String, Integer> names = new HashMap<>();
    for (int i = 0; i < entries.size(); i++) {
      String at = where + "[" + i + "]";
      Map<String, Object> entry = asObject(entries.get(i), at);
      for (String key : entry.keySet()) {
        if (!KEYS.contains(key)) {
          throw IpamException.invalidConfig("%s: unknown key %s; a sub-pool has name, ranges, namespaces, pods"
              + " and nodes", at, Printable.quote(key));
        }
      }
      String name = string(entry, "name", at);
      if (name == null || name.isEmpty()) {
        throw IpamException.invalidConfig("%s.name is missing", at);
      }
      if (name.length() > 63 || !Attachment.isSafeName(name)) {
        throw IpamException.invalidConfig("%s.name %s must start with a letter or digit followed by letters,"
            + " digits, '_', '.' or '-' (at most 63)", at, Printable.quote(name));
      }
      Integer earlier = names.putIfAbsent(name, i);
      if (earlier != null) {
        throw IpamException.invalidConfig("%s.name \"%s\" is also the name of %s[%d]", at, name, where, earlier);
      }
      List<RangeSet> sets = IpamConfig.rangeSets(list(entry, "ranges", at), at + ".ranges", commonExclude);
      if (sets.isEmpty()) {
        throw IpamException.invalidConfig("%s.ranges is missing: a sub-pool needs at least one range set", at);
      }
      Pool pool;
      try {
        pool = new Pool(SubPool.poolName(network, name), sets, order, policy);
      } catch (IpamException e) {
        throw IpamConfig.inContext(at, e);
      }
      List<String> namespaces = globs(entry, "namespaces", at, "namespace");
      List<PodPattern> pods = new ArrayList<>();
      for (String text : strings(entry, "pods", at)) {
        try {
          pods.add(PodPattern.parse(text));
        } catch (IpamException e) {
          throw IpamConfig.inContext(at + ".pods", e);
        }
      }
      List<String> nodes = globs(entry, "nodes", at, "node");
      out.add(new SubPool(name, pool, namespaces, pods, nodes, i, defaultPool == null ? null : defaultPool.name()));
    }
    checkDisjoint(out, defaultPool, where);
    return out;
  }

  /** A list of strings under {@code key}; empty when absent. */
  private static List<String> strings(Map<String, Object> entry, String key, String at) {
    List<Object> raw = list(entry, key, at);
    List<String> out = new ArrayList<>();
    if (raw == null) {
      return out;
    }
    Limits.check(at + "." + key, "entries", raw.size(), MAX_SELECTORS);
    for (Object o : raw) {
      if (!(o instanceof String s)) {
        throw IpamException.invalidConfig("%s.%s entries must be strings, not %s", at, key, JsonFields.describe(o));
      }
      out.add(s);
    }
    return out;
  }

  /**
   * Globs over namespaces or node names: {@code *} and {@code ?} and the characters of the names
   * (for namespaces those of {@link PodPattern}; for nodes those of node names, {@link
   * io.jipam.core.store.NodeName}: letters of either case, digits, {@code _ . -}).
   */
  private static List<String> globs(Map<String, Object> entry, String key, String at, String what) {
    List<String> out = strings(entry, key, at);
    checkGlobs(out, at + "." + key, what);
    return out;
  }

  /**
   * Holds selectors that come from elsewhere than a config (a node jipamd's Allocate naming its
   * sub-pool) to a config's rules: at most {@value #MAX_SELECTORS} of each kind, namespace and node
   * globs of the names' characters. {@code INVALID_CONFIG} naming the value otherwise. The pod
   * patterns are checked where they are parsed ({@link PodPattern#parse}).
   */
  public static void checkSelectors(String at, List<String> namespaces, int pods, List<String> nodes) {
    Limits.check(at + ".namespaces", "entries", namespaces.size(), MAX_SELECTORS);
    Limits.check(at + ".pods", "entries", pods, MAX_SELECTORS);
    Limits.check(at + ".nodes", "entries", nodes.size(), MAX_SELECTORS);
    checkGlobs(namespaces, at + ".namespaces", "namespace");
    checkGlobs(nodes, at + ".nodes", "node");
  }

  private static void checkGlobs(List<String> globs, String whole, String what) {
    for (String g : globs) {
      if (what.equals("namespace")) {
        try {
          PodPattern.check(g, what, g);
        } catch (IpamException e) {
          throw IpamConfig.inContext(whole, e);
        }
        continue;
      }
      if (g.isEmpty() || g.length() > PodRef.MAX_NAME) {
        throw IpamException.invalidConfig("%s: node pattern %s must be 1 to %d characters", whole,
            Printable.quote(g), PodRef.MAX_NAME);
      }
      for (int c = 0; c < g.length(); c++) {
        char ch = g.charAt(c);
        boolean ok = ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_'
            || ch == '.' || ch == '-' || ch == '*' || ch == '?';
        if (!ok) {
          throw IpamException.invalidConfig("%s: node pattern %s may hold only letters, digits, '_', '.', '-',"
              + " '*' and '?'", whole, Printable.quote(g));
        }
      }
    }
  }

  /** Refuses ranges of two sub-pools, or of a sub-pool and the default pool, that overlap. */
  private static void checkDisjoint(List<SubPool> subPools, Pool defaultPool, String where) {
    List<IpRange> all = new ArrayList<>();
    List<String> owner = new ArrayList<>();
    if (defaultPool != null) {
      add(defaultPool, "the network's own ranges", all, owner);
    }
    for (int i = 0; i < subPools.size(); i++) {
      add(subPools.get(i).pool(), where + "[" + i + "]", all, owner);
    }
    int[] pair = Overlap.find(all);
    if (pair != null) {
      // each pool's ranges are disjoint already (Pool), so the two belong to different owners
      throw IpamException.invalidConfig("%s: range %s overlaps range %s of %s", owner.get(pair[1]),
          all.get(pair[1]), all.get(pair[0]), owner.get(pair[0]));
    }
  }

  private static void add(Pool pool, String label, List<IpRange> all, List<String> owner) {
    for (RangeSet set : pool.rangeSets()) {
      for (IpRange r : set.ranges()) {
        all.add(r);
        owner.add(label);
      }
    }
  }
}
