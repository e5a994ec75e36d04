package io.jipam.server.grpc;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.NodeName;
import io.jipam.api.v1.ListRequest;
import io.jipam.server.pools.NodeStores;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpConnection;
import java.util.Set;

/**
 * The role table: who may call which {@code jipam.v1.Ipam} method, and on which store it runs.
 *
 * <table>
 *   <caption>Methods by role</caption>
 *   <tr><th>method</th><th>node</th><th>operator</th></tr>
 *   <tr><td>Allocate, Release, Find, RetainOnly</td><td>on its own node's store: an attachment
 *       another node made is refused (PERMISSION_DENIED), GC releases its own attachments
 *       only</td><td>on the named node's store; naming none, on jipamd's own store (any
 *       attachment)</td></tr>
 *   <tr><td>List</td><td>its own node's allocations only (a filter naming another node is
 *       refused)</td><td>every allocation</td></tr>
 *   <tr><td>Usage, ListPools</td><td>yes</td><td>yes</td></tr>
 *   <tr><td>Audit, ReclaimNode, LiftFence, RetirePool; Reserve, Unreserve, EndHold, ListClaims (claims)</td><td>refused
 *       (PERMISSION_DENIED)</td><td>yes</td></tr>
 * </table>
 * "Its own node's store" scopes by node only where the store records nodes ({@link
 * NodeStores#scopesNodes}, etcd); elsewhere a node's calls run on the one store. Thread-safe.
 */
public final class Access {
  /** Methods only an operator may call. */
  static final Set<String> OPERATOR_ONLY = Set.of("Audit", "ReclaimNode", "LiftFence", "RetirePool", "Reserve",
      "Unreserve", "EndHold", "ListClaims");

  private final CallerIdentity identity;
  private final NodeStores stores;

  public Access(CallerIdentity identity, NodeStores stores) {
    this.identity = identity;
    this.stores = stores;
  }

  NodeStores stores() {
    return stores;
  }

  /** What one call may do: its caller and the store it runs on. */
  record Scope(Caller caller, IpamStore store) {}

  /**
   * The scope of a call of {@code method} on {@code connection} with {@code headers}.
   *
   * @throws IpamException PERMISSION_DENIED when the caller may not call it (or is not who it
   *     says); INVALID_CONFIG for a malformed node header
   */
  Scope scope(String method, HttpConnection connection, MultiMap headers) {
    Caller caller = identity.resolve(connection, headers);
    if (!caller.isOperator() && OPERATOR_ONLY.contains(method)) {
      throw new IpamException(ErrorCode.PERMISSION_DENIED, method + " is an operator's call; " + caller.who()
          + " is a node's identity");
    }
    IpamStore store = caller.node() == null ? stores.base() : stores.forNode(caller.node());
    return new Scope(caller, store);
  }

  /**
   * A List request as the caller may make it: a node's is limited to its own node's allocations
   * where the store records nodes.
   *
   * @throws IpamException INVALID_CONFIG when the filter is not a node name, whoever calls;
   *     PERMISSION_DENIED when a node's filter names another node
   */
  ListRequest list(Scope scope, ListRequest request) {
    if (!request.getNode().isEmpty()) {
      NodeName.require(request.getNode(), "List node filter", ErrorCode.INVALID_CONFIG);
    }
    Caller caller = scope.caller();
    if (caller.isOperator() || !stores.scopesNodes()) {
      return request;
    }
    if (!request.getNode().isEmpty() && !request.getNode().equals(caller.node())) {
      throw new IpamException(ErrorCode.PERMISSION_DENIED, caller.who() + " may list node " + caller.node()
          + "'s allocations only, not node " + io.jipam.core.store.Printable.quote(request.getNode()) + "'s");
    }
    return request.toBuilder().setNode(caller.node()).build();
  }
}
