package io.jipam.etcd;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;

/**
 * The layout version of the data under a key prefix, and what a store says on meeting data of
 * another layout. This code reads and writes layout {@value Keys#LAYOUT} ({@link Keys}); it
 * records {@code <prefix>/layout} and, at the previous layout's definition key of each pool it
 * defines, a stand-in that the previous layout's code cannot parse (it fails naming this text), so
 * neither layout ever reads the other's records as its own. Stateless.
 */
final class LayoutVersion {
  /** Where the upgrade is described. */
  static final String UPGRADE = "docs/etcd.md, \"Upgrading from layout v1\"";

  private LayoutVersion() {}

  static String record() {
    return "jipam-layout " + Keys.LAYOUT + "\n";
  }

  /** The value at {@code <prefix>/v1/pools/<pool>} of a pool defined in this layout. */
  static String standIn(Keys keys) {
    return "jipam-pool moved to layout " + Keys.LAYOUT + " (" + keys.poolsPrefix() + "): this jipam is older than"
        + " the data; upgrade it\n";
  }

  /** True when a value at a previous layout's pool key is a definition of that layout (not a stand-in). */
  static boolean isPreviousDefinition(String value) {
    return value.startsWith("jipam-pool 1\n");
  }

  /** The refusal of a pool that the previous layout holds. */
  static IpamException previousLayout(Keys keys, String pool) {
    return new IpamException(ErrorCode.INVALID_CONFIG, "etcd store: network \"" + pool + "\" is stored in the"
        + " previous key layout (v1, " + keys.previousPool(pool) + "); this jipam reads layout " + Keys.LAYOUT
        + " only and changes nothing. Upgrade the data with `jipamctl migrate` through a data dir, as " + UPGRADE
        + " describes, or keep the previous jipam on this cluster");
  }
}
