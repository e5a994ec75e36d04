package io.jipam.ctl;

import io.jipam.client.RemoteStore;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
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

  /**
   * Connects. A unix socket that does not exist fails here, naming the ways out; one this user may
   * not open (the socket is 0600 root's, or a directory on the way is closed) fails as permission
   * denied, not as a jipamd that does not answer.
   */
  static RemoteBackend connect(RemoteStore.Target target) {
    return connect(target, null);
  }

  /**
   * As {@link #connect(RemoteStore.Target)}, every call naming {@code node} (null: none): an
   * operator acting for that node, e.g. {@code gc} of a named node on a central jipamd.
   */
  static RemoteBackend connect(RemoteStore.Target target, String node) {
    if (target.isUnix()) {
      Path socket = Path.of(target.text().substring("unix:".length()));
      java.nio.file.attribute.BasicFileAttributes attributes;
      try {
        attributes = Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class);
      } catch (java.nio.file.AccessDeniedException e) {
        throw denied(socket.getParent() == null ? socket : socket.getParent());
      } catch (java.io.IOException e) {
        throw new IpamException(ErrorCode.TRY_AGAIN_LATER, String.format(HINT, target.text()) + " (no such socket)");
      }
      if (!isSocket(socket)) { // a directory, a file or a FIFO is no jipamd, however long one waits
        throw new IpamException(ErrorCode.INVALID_CONFIG, io.jipam.core.store.Printable.quote(socket.toString())
            + (attributes.isDirectory() ? " is a directory, not a socket" : attributes.isRegularFile()
                ? " is a regular file, not a socket" : " is not a socket") + ": --server names jipamd's unix socket");
      }
      if (!Files.isWritable(socket)) { // connect(2) needs write permission on the socket
        throw denied(socket);
      }
    }
    return new RemoteBackend(RemoteStore.connect(target, node), target);
  }

  /** Whether {@code path} is a unix socket (its mode's file type); true where the mode cannot be read. */
  private static boolean isSocket(Path path) {
    try {
      return ((Integer) Files.getAttribute(path, "unix:mode") & 0170000) == 0140000;
    } catch (java.io.IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return true; // the connection will tell
    }
  }

  private static IpamException denied(Path path) {
    return new IpamException(ErrorCode.IO_FAILURE, "permission denied on " + path + " (run as root, or as a user"
        + " the socket's mode admits)");
  }

  @Override
  public String describe() {
    return "jipamd at " + target.text();
  }

  /**
   * Says what a failure to reach jipamd was: a TLS handshake that either side refused (with the
   * reason), permission denied, or else no jipamd answering (with the ways out).
   */
  private <T> T call(Supplier<T> call) {
    try {
      return call.get();
    } catch (IpamException e) {
      if (RemoteStore.unanswered(e)) {
        String tls = cause(e, javax.net.ssl.SSLException.class);
        if (tls == null) {
          tls = TlsProbe.refusal(target);
        }
        if (tls != null) {
          throw new IpamException(ErrorCode.IO_FAILURE, "TLS handshake refused: " + tls + " (jipamd at "
              + target.text() + "; check --ca, --cert and --key)", e);
        }
        if (cause(e, java.net.SocketException.class) != null
            && String.valueOf(cause(e, java.net.SocketException.class)).contains("Permission denied")) {
          throw denied(Path.of(target.text().substring(target.isUnix() ? "unix:".length() : 0)));
        }
        if (cause(e, java.net.ConnectException.class) != null) {
          // refused: say so in a few words (the transport's exception text cut the hint off at the
          // message bound); on a unix socket the file is there and no one listens on it
          throw new IpamException(e.code(), "jipamd at " + target.text() + " refused the connection"
              + (target.isUnix() ? " (a socket file no jipamd listens on: one that stopped without removing it,"
              + " or was killed)" : "") + "; " + String.format(HINT, target.text()), e);
        }
        throw new IpamException(e.code(), e.getMessage() + "; " + String.format(HINT, target.text()), e);
      }
      throw e;
    }
  }

  /** The message of the first {@code type} in the cause chain of {@code e}, or null. */
  private static String cause(Throwable e, Class<? extends Throwable> type) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (type.isInstance(t)) {
        return String.valueOf(t.getMessage());
      }
    }
    return null;
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
  public List<Pool> pools(String network) {
    return call(() -> {
      List<Pool> out = new ArrayList<>();
      store.pools(network).forEach(p -> out.add(p.pool()));
      return out;
    });
  }

  @Override
  public List<io.jipam.core.cni.SubPool> subPools() {
    return call(store::subPools);
  }

  @Override
  public PoolStatus status(Pool pool) {
    return call(() -> store.status(pool));
  }

  @Override
  public List<ListPages.Listed> list(Pool pool, ListPages.Filter filter) {
    return call(() -> store.list(pool, filter));
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
  public ReclaimReport reclaimNode(String node, ReclaimPolicy policy) {
    return call(() -> store.reclaimNode(node, policy));
  }

  @Override
  public ReclaimPreview previewReclaim(String node, ReclaimPolicy policy) {
    return call(() -> store.previewReclaim(node, policy));
  }

  @Override
  public boolean liftFence(String node) {
    return call(() -> store.liftFence(node));
  }

  @Override
  public io.jipam.core.store.capability.RetireOutcome retirePool(String pool) {
    return call(() -> store.retire(pool));
  }

  /** jipamd's Reserve, Unreserve, EndHold and ListClaims; a store behind it without claims answers UNSUPPORTED_FIELD. */
  @Override
  public java.util.Optional<io.jipam.core.store.capability.Claims> claims() {
    return java.util.Optional.of(store);
  }

  @Override
  public void close() {
    store.close();
  }
}
