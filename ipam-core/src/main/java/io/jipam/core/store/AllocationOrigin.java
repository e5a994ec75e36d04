package io.jipam.core.store;

/**
 * Why an attachment got an address: reported with each new allocation ({@link
 * AllocationOutcome.Allocated#origins()}), logged by jipamd's call log and explained by {@code
 * jipamctl show}. See {@link AddressPolicy} for the order in which they are tried.
 */
public enum AllocationOrigin {
  /** The attachment held it already (a repeated ADD). */
  EXISTING,
  /** The request named it ({@code ips}). */
  REQUESTED,
  /** It was reserved for the pod or its namespace. */
  RESERVED,
  /** It was held for the pod since its last DEL (a sticky address). */
  STICKY,
  /** The next free address in the pool's order. */
  FREE,
  /** Nothing else was free: the address that had cooled longest, before its delay ended. */
  COOLED;

  /** The lower-case name stores record and jipamctl and the call log print: {@code sticky}. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * The origin a store recorded as its {@link #label()}, as every store reads it back: null for a
   * label this version does not know (a later version's, read after a downgrade) or {@code
   * existing}, so that the allocation, its pod and the rest of its record are still read, with
   * the origin not recorded.
   */
  public static AllocationOrigin ofRecordedLabel(String label) {
    for (AllocationOrigin o : values()) {
      if (o != EXISTING && o.label().equals(label)) {
        return o;
      }
    }
    return null;
  }
}
