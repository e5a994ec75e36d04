package io.jipam.core.store.capability;

import java.util.function.Supplier;

/**
 * A store whose calls only do local work: memory, or files in a local directory written without
 * fsync. Such a call never waits on a network, a remote process or a disk flush; it takes
 * microseconds to a few milliseconds (its file system calls), or, when the file store must reload
 * a pool another process changed, the time to read that pool's files (O(allocations)). The one
 * wait it can meet is the pool's lock while another call on the same pool holds it (another
 * thread's batch, or a plugin in direct mode on the same data dir), which a call run {@link
 * #withoutWaiting} does not wait for.
 *
 * <p>A server may therefore run these calls on the thread that decoded the request (an event
 * loop) instead of handing each to a worker and back, which on a busy machine costs two waits for
 * a core per call, as long as it runs them {@link #withoutWaiting} and hands to a worker only a
 * call that would wait. A store behind a network (etcd, a remote jipamd) or one that forces its
 * writes to disk does not offer it. Ask a store for it with {@code
 * store.capability(LocalCalls.class)}; it has no instance methods: having it is the promise.
 */
public interface LocalCalls {
  /**
   * Runs {@code call} on this thread so that a store offering {@link LocalCalls} gives up where it
   * would wait for a lock another call or process holds: it throws {@link WouldWait} before it
   * changes anything, and the caller runs the call again where waiting is allowed. For a thread
   * that serves many connections (an event loop): a plugin in direct mode holding a pool's lock,
   * or another thread's batch on the pool, then never stalls it.
   *
   * @throws WouldWait when the call would have waited
   */
  static <T> T withoutWaiting(Supplier<T> call) {
    Boolean before = NoWait.ON.get();
    NoWait.ON.set(Boolean.TRUE);
    try {
      return call.get();
    } finally {
      if (before == null) {
        NoWait.ON.remove();
      }
    }
  }

  /** Whether the calling thread runs a call {@link #withoutWaiting}: what a store's locks ask. */
  static boolean waitingRefused() {
    return NoWait.ON.get() != null;
  }

  /**
   * A call run {@link #withoutWaiting} that would have waited for a lock; it changed nothing.
   * Carries no stack trace: it is a signal to run the call elsewhere, not an error.
   */
  final class WouldWait extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public WouldWait(String what) {
      super(what, null, false, false);
    }
  }

  /** The thread's flag, kept out of the interface's constants. */
  final class NoWait {
    private static final ThreadLocal<Boolean> ON = new ThreadLocal<>();

    private NoWait() {}
  }
}
