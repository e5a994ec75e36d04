package io.jipam.core.alloc;

/** Which free address an allocation takes. */
public enum AllocationOrder {
  /**
   * The first free address after the last one reserved in the range set, wrapping through every
   * range of the set: the reference host-local's order. A crash-looping container does not get
   * its previous address back until the set has been run through.
   */
  ROUND_ROBIN,
  /** The lowest free address of the first range that has one. */
  LOWEST_FREE;

  /** Parses the config spelling ({@code "round-robin"}, {@code "lowest-free"}); null if unknown. */
  public static AllocationOrder fromConfig(String text) {
    return switch (text) {
      case "round-robin" -> ROUND_ROBIN;
      case "lowest-free" -> LOWEST_FREE;
      default -> null;
    };
  }

  public String configName() {
    return this == ROUND_ROBIN ? "round-robin" : "lowest-free";
  }
}
