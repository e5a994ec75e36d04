package io.jipam.etcd;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;

/**
 * The etcd key layout, all under {@code <prefix>/v2/} (the {@code v2} is the layout version; the
 * table with every key, its value and who writes it is in docs/etcd.md, "Key layout"). The layout
 * version is also recorded as {@code <prefix>/layout}, and a pool defined in layout v2 leaves a
 * stand-in at its layout-v1 key that a store of the previous layout refuses to read.
 *
 * <p>Per allocation there are four records, written in one transaction: a bit in its block
 * ({@link BlockCodec}: owner, cursor, bitmap), the attachment's handle ({@link HandleCodec}), the
 * same handle under its node ({@code node-handles/<node>/...}: what GC, reclaim and a node's views
 * read, so they read that node's keys only) and the address's holder ({@code addresses/<pool>/<hex
 * address>}: what {@code Taken} names and {@code list} pages through, in address order).
 *
 * <p>Claims ({@link io.jipam.core.store.Claim}: holds, reservations, cool-downs) live in the
 * block record of their address ({@link BlockCodec}), so they change in the same compare-and-swap
 * as the allocation bits; two index records find them without reading the pool ({@link
 * ClaimIndex}):
 *
 * <table>
 *   <caption>Claim keys (besides the claim lines of blocks)</caption>
 *   <tr><th>key</th><th>value</th><th>written</th></tr>
 *   <tr><td>{@code <p>/v2/holds/<pool>/<pod ns>/<pod name>}</td><td>the pod's held addresses with
 *       their expiry</td><td>with the blocks, by the DEL making a hold and the ADD or {@code
 *       endHold} ending one; on a lease outliving its holds</td></tr>
 *   <tr><td>{@code <p>/v2/reservations/<pool>}</td><td>every reservation of the pool</td><td>with
 *       the block, by {@code reserve} and {@code unreserve}; ADDs of known pods are guarded on
 *       it</td></tr>
 * </table>
 *
 * <p>Every segment is safe as a key part: pool names, node names and container IDs are limited to
 * {@code [A-Za-z0-9_.-]}, interface names exclude {@code /}, and addresses print without
 * {@code /}; pod namespaces and names are percent-encoded ({@link FieldEscaping}). Keys are
 * parsed here and nowhere else.
 */
final class Keys {
  /** The layout this code reads and writes. */
  static final int LAYOUT = 2;

  private final String prefix;
  private final String root;

  Keys(String prefix) {
    this.prefix = prefix;
    this.root = prefix + "/v" + LAYOUT + "/";
  }

  /** {@code <prefix>/layout}: the layout version of the data under the prefix. */
  String layoutVersion() {
    return prefix + "/layout";
  }

  /** The previous layout's definition key of a pool ({@code <prefix>/v1/pools/<pool>}). */
  String previousPool(String pool) {
    return previousPoolsPrefix() + pool;
  }

  String previousPoolsPrefix() {
    return prefix + "/v1/pools/";
  }

  String poolsPrefix() {
    return root + "pools/";
  }

  String pool(String pool) {
    return poolsPrefix() + pool;
  }

  /**
   * {@code <p>/v2/networks/<network>}: put by every definition of a pool of the network (its own
   * or a sub-pool's, {@code <network>+<name>}), so that a transaction guarded on its revision fails
   * once the network has a pool its store did not know of ({@link NetworkPeers}).
   */
  String network(String network) {
    return root + "networks/" + network;
  }

  /** {@code <p>/v2/pools/<network>+}: the definitions of the network's sub-pools, as a key prefix. */
  String subPoolsPrefix(String network) {
    return poolsPrefix() + network + io.jipam.core.store.Pool.SUB_POOL_SEPARATOR;
  }

  String blocksPrefix(String pool) {
    return root + "blocks/" + pool + "/";
  }

  String blocksPrefix(String pool, int set) {
    return blocksPrefix(pool) + set + "/";
  }

  String block(String pool, int set, String blockId) {
    return blocksPrefix(pool, set) + blockId;
  }

  /** {@code <p>/v2/claim-hints/<pool>/<set>}: the id of the block of the set claimed last. */
  /** {@code <p>/v2/claim-hints/<pool>/}: the pool's claim hints, one per range set. */
  String claimHintsPrefix(String pool) {
    return root + "claim-hints/" + pool + "/";
  }

  String claimHint(String pool, int set) {
    return root + "claim-hints/" + pool + "/" + set;
  }

  String affinityPrefix(String node) {
    return root + "affinity/" + node + "/";
  }

  String affinityPrefix(String node, String pool) {
    return affinityPrefix(node) + pool + "/";
  }

  String affinity(String node, String pool, int set, String blockId) {
    return affinityPrefix(node, pool) + set + "/" + blockId;
  }

  String handlesRoot() {
    return root + "handles/";
  }

  String handlesPrefix(String pool) {
    return handlesRoot() + pool + "/";
  }

  String handle(String pool, Attachment attachment) {
    return handlesPrefix(pool) + attachment.containerId() + "/" + attachment.ifname();
  }

  /** {@code <p>/v2/node-handles/<node>/}: the handles a node made, in every pool. */
  String nodeHandlesPrefix(String node) {
    return nodeHandlesRoot() + node + "/";
  }

  String nodeHandlesRoot() {
    return root + "node-handles/";
  }

  String nodeHandlesPrefix(String node, String pool) {
    return nodeHandlesPrefix(node) + pool + "/";
  }

  String nodeHandle(String node, String pool, Attachment attachment) {
    return nodeHandlesPrefix(node, pool) + attachment.containerId() + "/" + attachment.ifname();
  }

  String addressesPrefix(String pool) {
    return root + "addresses/" + pool + "/";
  }

  /**
   * {@code <p>/v2/addresses/<pool>/<hex>}: {@code 4.} and 8 hex digits for IPv4, {@code 6.} and 32
   * for IPv6, so that key order is address order.
   */
  String address(String pool, IpAddress address) {
    return addressesPrefix(pool) + hex(address);
  }

  static String hex(IpAddress a) {
    return a.isV4() ? String.format("4.%08x", a.low())
        : String.format("6.%016x%016x", a.high(), a.low());
  }

  /** The address a {@code <p>/v2/addresses/<pool>/<hex>} key names. */
  IpAddress parseAddress(String pool, String key) {
    String h = suffix(key, addressesPrefix(pool));
    try {
      if (h.length() == 10 && h.startsWith("4.")) {
        return IpAddress.v4(Long.parseLong(h.substring(2), 16));
      }
      if (h.length() == 34 && h.startsWith("6.")) {
        return IpAddress.v6(Long.parseUnsignedLong(h.substring(2, 18), 16), Long.parseUnsignedLong(h.substring(18), 16));
      }
    } catch (IllegalArgumentException e) {
      throw unexpected(key);
    }
    throw unexpected(key);
  }

  /**
   * {@code <p>/v2/holds/<pool>/<pod ns>/<pod name>} (both percent-encoded): where a pod's holds
   * are, so that its ADD finds them on any node by one key.
   */
  /** {@code <p>/v2/holds/<pool>/}: the pool's hold indexes, one per pod. */
  String holdsPrefix(String pool) {
    return root + "holds/" + pool + "/";
  }

  String holds(String pool, io.jipam.core.store.PodRef pod) {
    return root + "holds/" + pool + "/" + FieldEscaping.esc(pod.namespace()) + "/" + FieldEscaping.esc(pod.name());
  }

  /** {@code <p>/v2/reservations/<pool>}: every reservation of the pool, one record. */
  String reservations(String pool) {
    return root + "reservations/" + pool;
  }

  String deletion(String pool, Attachment attachment) {
    return root + "deletions/" + pool + "/" + attachment.containerId() + "/" + attachment.ifname();
  }

  String ticket(String node, String store) {
    return root + "tickets/" + node + "/" + store;
  }

  String nodeRecord(String node) {
    return root + "nodes/" + node;
  }

  String fence(String node) {
    return root + "fences/" + node;
  }

  /** A block as its key names it: range set and block id ({@code <net>_<len>}). */
  record BlockRef(String pool, int set, String id) {}

  /** Parses {@code <p>/v2/blocks/<pool>/<set>/<id>}. */
  BlockRef parseBlock(String pool, String key) {
    return parseRef(pool, key, blocksPrefix(pool));
  }

  /** Parses {@code <p>/v2/affinity/<node>/<pool>/<set>/<id>}. */
  BlockRef parseAffinity(String node, String key) {
    String rest = suffix(key, affinityPrefix(node));
    int slash = rest.indexOf('/');
    if (slash <= 0) {
      throw unexpected(key);
    }
    String pool = rest.substring(0, slash);
    return parseRef(pool, key, affinityPrefix(node, pool));
  }

  /** The pool a {@code <p>/v2/pools/<pool>} key names. */
  String parsePool(String key) {
    return suffix(key, poolsPrefix());
  }

  /** The attachment a handle key ({@code .../<containerID>/<ifname>}, global or under a node) names. */
  static Attachment parseHandle(String key) {
    int slash = key.lastIndexOf('/');
    int before = key.lastIndexOf('/', slash - 1);
    if (before < 0) {
      throw unexpected(key);
    }
    return new Attachment(key.substring(before + 1, slash), key.substring(slash + 1));
  }

  private BlockRef parseRef(String pool, String key, String prefix) {
    String rest = suffix(key, prefix);
    int slash = rest.indexOf('/');
    try {
      if (slash <= 0 || rest.indexOf('/', slash + 1) >= 0) {
        throw new IllegalArgumentException();
      }
      return new BlockRef(pool, Integer.parseInt(rest.substring(0, slash)), rest.substring(slash + 1));
    } catch (IllegalArgumentException e) {
      throw unexpected(key);
    }
  }

  private static String suffix(String key, String prefix) {
    if (!key.startsWith(prefix) || key.length() == prefix.length()) {
      throw unexpected(key);
    }
    return key.substring(prefix.length());
  }

  private static IpamException unexpected(String key) {
    return new IpamException(ErrorCode.DECODE_FAILURE, "etcd: unexpected key " + key);
  }
}
