package io.jipam.api;

/** The gRPC metadata names of the jipam.v1 API that are not in its .proto. */
public final class Headers {
  private Headers() {}

  /**
   * The node a caller acts for: sent by {@code RemoteStore} when it was given one, checked by
   * jipamd against the caller's certificate.
   */
  public static final String NODE = "jipam-node";
}
