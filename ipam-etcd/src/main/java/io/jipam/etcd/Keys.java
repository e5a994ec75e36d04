package io.jipam.etcd;

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
 * </table>
 *
 * <p>Every segment is safe as a key part: pool names, node names and container IDs are limited to
 * {@code [A-Za-z0-9_.-]}, interface names exclude {@code /}, and addresses print without
 * {@code /}.
 */
final class Keys {
  private final String root;

  Keys(String prefix) {
    this.root = prefix + "/v1/";
  }

  String root() {
    return root;
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

  /** The last segment of a key. */
  static String lastSegment(String key) {
    return key.substring(key.lastIndexOf('/') + 1);
  }
}
