package io.jipam.core;

/**
 * Every way a jipam operation can fail, with the CNI error code it maps to at the plugin edge.
 *
 * <p>Codes below 100 are the CNI specification's; 100 and up are jipam's own (the spec leaves
 * that range to plugins). The gRPC edge maps the same enum to a status code.
 */
public enum ErrorCode {
  /** The config's cniVersion is not one jipam speaks, or the command needs a newer one. */
  INCOMPATIBLE_VERSION(1),
  /** A config field jipam does not support. */
  UNSUPPORTED_FIELD(2),
  /** The container is unknown or does not exist (CHECK of an attachment without addresses). */
  UNKNOWN_CONTAINER(3),
  /** A required CNI_* environment variable is missing or malformed. */
  INVALID_ENVIRONMENT(4),
  /** Reading or writing the store failed. */
  IO_FAILURE(5),
  /** Stdin or a stored record is not the JSON it should be. */
  DECODE_FAILURE(6),
  /** The network config is well-formed JSON but not a valid IPAM config. */
  INVALID_CONFIG(7),
  /** Transient: the store is unreachable or contended; the same call may succeed later. */
  TRY_AGAIN_LATER(11),
  /** STATUS: the plugin cannot hand out addresses now. */
  NOT_AVAILABLE(50),
  /** A range set has no free address left. */
  POOL_EXHAUSTED(100),
  /** A requested address is held by another attachment, reserved, or outside every range. */
  ADDRESS_UNAVAILABLE(101),
  /** CHECK found the attachment's allocation differs from the previous result. */
  ALLOCATION_MISMATCH(102),
  /**
   * The caller may not do this: a node asking for another node's attachment or for an operator's
   * call (jipamd's identity and role table, docs/service.md).
   */
  PERMISSION_DENIED(103),
  /** A bug or an unexpected state; the message says what. */
  INTERNAL(999);

  private final int cniCode;

  ErrorCode(int cniCode) {
    this.cniCode = cniCode;
  }

  /** The numeric code printed in the CNI error JSON. */
  public int cniCode() {
    return cniCode;
  }
}
