package io.jipam.etcd;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs each task on the thread that submits it. jetcd starts every call through its executor
 * (Failsafe's retrying wrapper submits the call's start to it); its default, a thread pool, cost a
 * hand-off to a pool thread and its wake-up per etcd request, for work that only starts an
 * asynchronous gRPC call and never blocks. With this the caller's own thread (a commit task)
 * starts it; retries after a back-off still start on Failsafe's delay thread. Its client shuts it
 * down first when it closes: then it refuses every task, as jetcd's own pool did after its
 * {@code shutdownNow}, so a retry due after the close (a lease revoke's) is dropped, not sent again
 * on the closed channel.
 */
final class CallingThreadExecutor extends AbstractExecutorService {
  private volatile boolean shutdown;

  @Override
  public void execute(Runnable task) {
    if (shutdown) {
      throw new RejectedExecutionException("the etcd client is closed");
    }
    task.run();
  }

  @Override
  public void shutdown() {
    shutdown = true;
  }

  @Override
  public List<Runnable> shutdownNow() {
    shutdown = true;
    return List.of();
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public boolean isTerminated() {
    return shutdown;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return shutdown;
  }
}
