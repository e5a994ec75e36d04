package io.jipam.core.store.capability;

import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A store whose ADD and DEL can be queued without a thread waiting for their commit: the call
 * returns at once, and the future completes when the store has answered the change, with what
 * {@code allocate} or {@code release} would have returned, or exceptionally with the
 * {@link io.jipam.core.IpamException} they would have thrown. Same contract otherwise (atomicity,
 * durability, node scoping): the blocking methods are these, waited for.
 *
 * <p>The future is completed by the store's own thread (a commit task, or its deadline timer),
 * by the call's deadline plus the store's slack: never left pending. Dependent actions run on
 * that thread, so they must be short and must not block (hand the answer to an event loop).
 *
 * <p>A server asks for it ({@code store.capability(AsyncChanges.class)}) to spare the worker thread
 * that would otherwise wait for each commit, and its two hand-offs per call.
 */
public interface AsyncChanges {
  /** {@code allocate}, answered later. */
  CompletableFuture<AllocationOutcome> allocateAsync(Pool pool, AllocationRequest request);

  /** {@code release}, answered later. */
  CompletableFuture<List<Allocation>> releaseAsync(Pool pool, Attachment attachment);
}
