package io.jipam.etcd;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.time.Instant;

/**
 * The two per-node records, as text: {@code nodes/<node>} ({@code jipam-node 1}, {@code seen <epoch
 * millis>}: when a store of the node last recorded a commit) and {@code fences/<node>} ({@code
 * jipam-fence 1}, {@code by <node>}, {@code at <epoch millis>}: who fenced it, and when).
 */
final class NodeRecords {
  private static final String NODE = "jipam-node 1";
  private static final String FENCE = "jipam-fence 1";

  private NodeRecords() {}

  static String seenRecord(Instant at) {
    return NODE + "\nseen " + at.toEpochMilli() + "\n";
  }

  static Instant seen(String key, String text) {
    return Instant.ofEpochMilli(field(key, text, NODE, "seen "));
  }

  static String fence(String by, Instant at) {
    return FENCE + "\nby " + by + "\nat " + at.toEpochMilli() + "\n";
  }

  /** "fenced by n at t" for messages. */
  static String describeFence(String key, String text) {
    String by = "?";
    for (String line : text.split("\n")) {
      if (line.startsWith("by ")) {
        by = line.substring(3);
      }
    }
    return "fenced (" + key + ") by node " + by + " at " + Instant.ofEpochMilli(field(key, text, FENCE, "at "));
  }

  private static long field(String key, String text, String magic, String name) {
    String[] lines = text.split("\n");
    try {
      if (!lines[0].equals(magic)) {
        throw new IllegalArgumentException("not a " + magic + " record");
      }
      for (String line : lines) {
        if (line.startsWith(name)) {
          return Long.parseLong(line.substring(name.length()));
        }
      }
      throw new IllegalArgumentException("no \"" + name.trim() + "\" line");
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: cannot read " + key + ": " + e.getMessage(), e);
    }
  }
}
