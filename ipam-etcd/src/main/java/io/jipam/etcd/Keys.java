package io.jipam.etcd;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Attachment;

/**
 * The etcd key layout, all under {@code <prefix>/v1/} (the {@code v1} is the layout version: a
 * later incompatible layout moves to {@code v2} and can live beside it during a migration).
 *
 * <table>
 *   <caption>Keys</caption>
 *   <tr><th>Key</th><th>Value</th><th>Written</th></tr>
 *   <tr><td>{@code <p>/v1/pools/<pool>}</td>
 *       <td>pool definition: block prefix length and ranges of every range set</td>
 *       <td>once, by the first store that names the pool (create-if-absent transaction); never
 *       changed after</td></tr>
 *   <tr><td>{@code <p>/v1/blocks/<pool>/<set>/<net>_<len>}</td>
 *       <td>one block: owner node (or none), round-robin cursor, one line per allocated address
 *       (offset, container ID, ifname, pod)</td>
 *       <td>by every ADD/DEL that changes the block, compare-and-swap on its mod revision; created
 *       by the claim of a node (compare version = 0); deleted when it empties</td></tr>
 *   <tr><td>{@code <p>/v1/affinity/<node>/<pool>/<set>/<net>_<len>}</td>
 *       <td>empty: an index of the blocks a node owns</td>
 *       <td>in the same transaction as the block's claim / release</td></tr>
 *   <tr><td>{@code <p>/v1/handles/<pool>/<containerID>/<ifname>}</td>
 *       <td>one attachment: node that allocated, pod, addresses with their range set</td>
 *       <td>in the same transaction as the blocks it points into</td></tr>
 *   <tr><td>{@code <p>/v1/deletions/<pool>/<containerID>/<ifname>}</td>
 *       <td>empty: the attachment was deleted (DEL) lately</td>
 *       <td>by every DEL, on a lease of six times the ticket's (at least 30 s) used for half its
 *       life; the transaction of an ADD that creates the handle requires it absent, or at the
 *       revision the ADD's store last saw</td></tr>
 *   <tr><td>{@code <p>/v1/tickets/<node>/<store>}</td>
 *       <td>empty: one per store instance</td>
 *       <td>by every transaction of the store that writes, on a lease of the store's timeout
 *       (rounded up to seconds, at least 2 s), replaced by a new one after 40 % of that: a
 *       transaction that reaches etcd after its lease ended fails as a whole</td></tr>
 *   <tr><td>{@code <p>/v1/nodes/<node>}</td>
 *       <td>{@code jipam-node 1}, {@code seen <epoch millis>}: when a store of the node last
 *       committed</td>
 *       <td>with a store's commits, at most every {@value CommitTickets#SEEN_EVERY_MILLIS} ms; read by
 *       {@code reclaimNode} to refuse a node that looks alive</td></tr>
 *   <tr><td>{@code <p>/v1/fences/<node>}</td>
 *       <td>{@code jipam-fence 1}, {@code by <node>}, {@code at <epoch millis>}</td>
 *       <td>by {@code reclaimNode} before it releases anything; every transaction of that node
 *       that creates a handle requires it absent; deleted by {@code liftFence}</td></tr>
 * </table>
 *
 * <p>Every segment is safe as a key part: pool names, node names and container IDs are limited to
 * {@code [A-Za-z0-9_.-]}, interface names exclude {@code /}, and addresses print without
 * {@code /}. Values are read and written by one codec per record: {@link BlockLayout} (pools),
 * {@link BlockCodec}, {@link HandleCodec}, {@link NodeRecords} (nodes, fences); affinity, deletion
 * and ticket keys have empty values. Keys are parsed here and nowhere else.
 */
final class Keys {
  private final String root;

  Keys(String prefix) {
    this.root = prefix + "/v1/";
  }

  String poolsPrefix() {
    return root + "pools/";
  }

  String pool(String pool) {
    return poolsPrefix() + pool;
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

  /** Parses {@code <p>/v1/blocks/<pool>/<set>/<id>}. */
  BlockRef parseBlock(String pool, String key) {
    return parseRef(pool, key, blocksPrefix(pool));
  }

  /** Parses {@code <p>/v1/affinity/<node>/<pool>/<set>/<id>}. */
  BlockRef parseAffinity(String node, String key) {
    String rest = suffix(key, affinityPrefix(node));
    int slash = rest.indexOf('/');
    if (slash <= 0) {
      throw unexpected(key);
    }
    String pool = rest.substring(0, slash);
    return parseRef(pool, key, affinityPrefix(node, pool));
  }

  /** The pool a {@code <p>/v1/pools/<pool>} key names. */
  String parsePool(String key) {
    return suffix(key, poolsPrefix());
  }

  /** The attachment a {@code <p>/v1/handles/<pool>/<containerID>/<ifname>} key names. */
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
