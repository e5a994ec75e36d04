package io.jipam.server.grpc;

/**
 * Who a gRPC call comes from, as jipamd established it ({@link CallerIdentity}), and the node it
 * acts for.
 *
 * @param role a node, or an operator (may call everything, for any node)
 * @param node the node the call acts for: a node caller's own; an operator's when it named one
 *     (the {@value CallerIdentity#NODE_HEADER} header), else null
 * @param who how it was identified, for messages (e.g. "node certificate CN=node-a")
 */
record Caller(Role role, String node, String who) {
  /** The two roles of the role table (docs/service.md). */
  enum Role { NODE, OPERATOR }

  Caller {
    if (role == Role.NODE && node == null) {
      throw new IllegalArgumentException("a node caller needs its node");
    }
  }

  boolean isOperator() {
    return role == Role.OPERATOR;
  }
}
