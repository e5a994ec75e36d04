package io.jipam.ctl;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.server.RemoteStore;
import io.jipam.server.v1.ListRequest;
import io.jipam.server.v1.ReclaimNodeRequest;
import io.jipam.server.v1.ReclaimNodeResponse;
import io.jipam.server.v1.UsageResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/** A jipamd, through {@link RemoteStore}: every method is one or a few jipam.v1 calls. */
final class RemoteBackend implements Backend {
  static final String HINT = "no jipamd answers at %s; start jipamd, name another with --server, or open a store"
      + " directly: --data-dir DIR (file store, with --conf for the pool definitions) or --etcd-config FILE";

  private final RemoteStore store;
  private final RemoteStore.Target target;

  private RemoteBackend(RemoteStore store, RemoteStore.Target target) {
    this.store = store;
    this.target = target;
  }

  /** Connects; a unix socket that does not exist fails here, naming the ways out. */
  static RemoteBackend connect(RemoteStore.Target target) {
    return connect(target, null);
  }

  /**
   * As {@link #connect(RemoteStore.Target)}, every call naming {@code node} (null: none): an
   * operator acting for that node, e.g. {@code gc} of a named node on a central jipamd.
   */
  static RemoteBackend connect(RemoteStore.Target target, String node) {
    if (target.isUnix() && !Files.exists(Path.of(target.text().substring("unix:".length())))) {
      throw new IpamException(ErrorCode.TRY_AGAIN_LATER, String.format(HINT, target.text()) + " (no such socket)");
    }
    return new RemoteBackend(RemoteStore.connect(target, node), target);
  }

  @Override
  public String describe() {
    return "jipamd at " + target.text();
  }

  /** Adds the hint to a failure to reach jipamd. */
  private <T> T call(Supplier<T> call) {
    try {
      return call.get();
    } catch (IpamException e) {
      if (e.code() == ErrorCode.TRY_AGAIN_LATER && e.getMessage().startsWith("jipamd ")) {
        throw new IpamException(e.code(), e.getMessage() + "; " + String.format(HINT, target.text()), e);
      }
      throw e;
    }
  }

  @Override
  public List<Pool> pools() {
    return call(() -> {
      List<Pool> out = new ArrayList<>();
      store.pools().forEach(p -> out.add(p.pool()));
      return out;
    });
  }

  @Override
  public UsageResponse usage(Pool pool) {
    return call(() -> store.usageDetail(pool));
  }

  @Override
  public List<RemoteStore.Listed> list(Pool pool, ListRequest filter) {
    return call(() -> store.listWithNodes(pool, filter));
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    return call(() -> store.find(pool, attachment));
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    return call(() -> store.release(pool, attachment));
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    return call(() -> store.retainOnly(pool, valid));
  }

  @Override
  public List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid) {
    return call(() -> store.retainOnlyPreview(pool, valid));
  }

  @Override
  public List<String> audit(Pool pool) {
    return call(() -> store.audit(pool));
  }

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    return call(() -> store.allocate(pool, request));
  }

  @Override
  public ReclaimNodeResponse reclaimNode(ReclaimNodeRequest request) {
    return call(() -> store.reclaimNode(request));
  }

  @Override
  public boolean liftFence(String node) {
    return call(() -> store.liftFence(node));
  }

  @Override
  public void close() {
    store.close();
  }
}
