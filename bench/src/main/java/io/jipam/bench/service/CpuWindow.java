package io.jipam.bench.service;

import io.jipam.bench.etcd.EtcdLoads;

/**
 * CPU that a measured window cost: this JVM's (the load's clients, and whatever runs in it) and one
 * other process's ({@link ProcCpu}, so in 10 ms ticks), read when the window opens and when it
 * closes. Not thread-safe: one window, then {@link #selfMillis} and {@link #peerMillis}.
 */
final class CpuWindow implements EtcdLoads.WindowProbe {
  private final long peerPid;
  private volatile double self0;
  private volatile double self1 = Double.NaN;
  private volatile double peer0;
  private volatile double peer1 = Double.NaN;

  /** {@code peerPid}: the other process (etcd), or -1 for none. */
  CpuWindow(long peerPid) {
    this.peerPid = peerPid;
  }

  @Override
  public void opened() {
    self0 = ProcCpu.self();
    peer0 = peerPid > 0 ? ProcCpu.millis(peerPid) : Double.NaN;
  }

  @Override
  public void closed() {
    self1 = ProcCpu.self();
    peer1 = peerPid > 0 ? ProcCpu.millis(peerPid) : Double.NaN;
  }

  /** This JVM's CPU in the window, ms; NaN before it closed. */
  double selfMillis() {
    return self1 - self0;
  }

  /** The other process's CPU in the window, ms; NaN without one or before it closed. */
  double peerMillis() {
    return peer1 - peer0;
  }
}
