package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;

/** The value of CNI_COMMAND. */
public enum CniCommand {
  ADD,
  DEL,
  CHECK,
  VERSION,
  GC,
  STATUS;

  /** @throws IpamException {@code INVALID_ENVIRONMENT} naming the value when unknown */
  public static CniCommand parse(String text) {
    if (text == null || text.isEmpty()) {
      throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI_COMMAND is not set");
    }
    for (CniCommand c : values()) {
      if (c.name().equals(text)) {
        return c;
      }
    }
    throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI_COMMAND \"" + text
        + "\" is not one of ADD, DEL, CHECK, VERSION, GC, STATUS");
  }
}
