package io.jipam.server.grpc;

import io.jipam.api.WireMapping;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.capability.NodeReclaim;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.api.v1.LiftFenceResponse;
import io.jipam.api.v1.ReclaimNodeRequest;
import io.jipam.api.v1.ReclaimNodeResponse;

/**
 * ReclaimNode and LiftFence on a store that can reclaim a node ({@link NodeReclaim}: the etcd store
 * itself, a remote store by passing the call on); any other store answers UNSUPPORTED_FIELD
 * naming it.
 */
final class ReclaimCalls {
  private ReclaimCalls() {}

  /** With the address rules of {@code known}, the pools this jipamd serves ({@link ReclaimPolicy#rules}). */
  static ReclaimNodeResponse reclaimNode(IpamStore store, ReclaimNodeRequest r, java.util.Collection<io.jipam.core.store.Pool> known) {
    if (r.getNode().isEmpty()) {
      throw IpamException.invalidConfig("ReclaimNode needs a node name");
    }
    NodeName.require(r.getNode(), "ReclaimNode", ErrorCode.INVALID_CONFIG);
    NodeReclaim reclaim = reclaim(store, "ReclaimNode");
    ReclaimPolicy policy = WireMapping.policy(r).withRules(known);
    return r.getDryRun() ? WireMapping.preview(reclaim.previewReclaim(r.getNode(), policy), policy)
        : WireMapping.report(reclaim.reclaimNode(r.getNode(), policy));
  }

  static LiftFenceResponse liftFence(IpamStore store, String node) {
    if (node.isEmpty()) {
      throw IpamException.invalidConfig("LiftFence needs a node name");
    }
    NodeName.require(node, "LiftFence", ErrorCode.INVALID_CONFIG);
    return LiftFenceResponse.newBuilder().setLifted(reclaim(store, "LiftFence").liftFence(node)).build();
  }

  private static NodeReclaim reclaim(IpamStore store, String method) {
    return store.capability(NodeReclaim.class).orElseThrow(() -> new IpamException(ErrorCode.UNSUPPORTED_FIELD,
        method + ": this jipamd's store (" + store.getClass().getSimpleName()
        + ") keeps no node affinity; only the etcd store does"));
  }
}
