package io.jipam.core;

import java.util.Objects;

/**
 * The one exception type of jipam. Carries an {@link ErrorCode}; edges (the CNI plugin, the gRPC
 * service) map the code and print {@link #getMessage()}, which names the offending value.
 */
public class IpamException extends RuntimeException {
  private final ErrorCode code;

  public IpamException(ErrorCode code, String message) {
    super(message);
    this.code = Objects.requireNonNull(code, "code");
  }

  public IpamException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
  }

  public ErrorCode code() {
    return code;
  }

  public static IpamException invalidConfig(String format, Object... args) {
    return new IpamException(ErrorCode.INVALID_CONFIG, String.format(format, args));
  }
}
