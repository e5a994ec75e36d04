package io.jipam.server.grpc;

import io.jipam.api.Protos;
import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.NodeName;
import io.jipam.etcd.EtcdStore;
import io.jipam.etcd.ReclaimPolicy;
import io.jipam.etcd.ReclaimPreview;
import io.jipam.etcd.ReclaimReport;
import io.jipam.api.v1.LiftFenceResponse;
import io.jipam.api.v1.PoolAllocations;
import io.jipam.api.v1.ReclaimNodeRequest;
import io.jipam.api.v1.ReclaimNodeResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * ReclaimNode and LiftFence on the stores that keep node affinity: the etcd store directly, a
 * remote store by passing the request on; any other store answers UNSUPPORTED_FIELD naming it.
 */
public final class Reclaims {
  private Reclaims() {}

  public static ReclaimNodeResponse reclaimNode(IpamStore store, ReclaimNodeRequest r) {
    if (r.getNode().isEmpty()) {
      throw IpamException.invalidConfig("ReclaimNode needs a node name");
    }
    NodeName.require(r.getNode(), "ReclaimNode", ErrorCode.INVALID_CONFIG);
    if (store instanceof RemoteStore remote) {
      return remote.reclaimNode(r);
    }
    EtcdStore etcd = etcd(store, "ReclaimNode");
    ReclaimPolicy policy = new ReclaimPolicy(r.getQuietPeriodSeconds() == 0 ? ReclaimPolicy.DEFAULT_QUIET_PERIOD
        : Duration.ofSeconds(Integer.toUnsignedLong(r.getQuietPeriodSeconds())), r.getForce());
    if (r.getDryRun()) {
      ReclaimPreview p = etcd.previewReclaim(r.getNode(), policy);
      return released(p.held()).setDryRun(true).setLastSeen(time(p.lastSeen())).setLooksAlive(p.looksAlive())
          .setFenced(p.fenced()).setWouldRefuse(p.refused(policy))
          .setForced(p.looksAlive() && !p.fenced() && policy.force()).build();
    }
    ReclaimReport report = etcd.reclaimNode(r.getNode(), policy);
    return released(report.released()).setLastSeen(time(report.lastSeen())).setForced(report.forced())
        .setLooksAlive(report.forced()).setBlocksDeleted(report.blocksDeleted())
        .setBlocksOrphaned(report.blocksOrphaned()).setAffinitiesRemoved(report.affinitiesRemoved()).build();
  }

  public static LiftFenceResponse liftFence(IpamStore store, String node) {
    if (node.isEmpty()) {
      throw IpamException.invalidConfig("LiftFence needs a node name");
    }
    NodeName.require(node, "LiftFence", ErrorCode.INVALID_CONFIG);
    if (store instanceof RemoteStore remote) {
      return LiftFenceResponse.newBuilder().setLifted(remote.liftFence(node)).build();
    }
    return LiftFenceResponse.newBuilder().setLifted(etcd(store, "LiftFence").liftFence(node)).build();
  }

  private static EtcdStore etcd(IpamStore store, String method) {
    if (store instanceof EtcdStore etcd) {
      return etcd;
    }
    throw new IpamException(ErrorCode.UNSUPPORTED_FIELD, method + ": this jipamd's store ("
        + store.getClass().getSimpleName() + ") keeps no node affinity; only the etcd store does");
  }

  private static ReclaimNodeResponse.Builder released(Map<String, List<Allocation>> byPool) {
    ReclaimNodeResponse.Builder out = ReclaimNodeResponse.newBuilder();
    byPool.forEach((pool, list) ->
        out.addReleased(PoolAllocations.newBuilder().setPool(pool).addAllAllocations(Protos.allocations(list))));
    return out;
  }

  private static String time(Instant at) {
    return at == null ? "" : at.toString();
  }
}
