package io.jipam.bench.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link ProcCpu}: reads a live process's CPU from /proc, in whole ticks, and fails loudly. */
class ProcCpuTest {
  @Test
  void self_afterBurningCpu_grows() {
    assumeTrue(ProcCpu.available(), "no /proc");
    double before = ProcCpu.self();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    long sink = 0;
    while (ProcCpu.self() < before + 50 && System.nanoTime() < deadline) {
      for (int i = 0; i < 1_000_000; i++) {
        sink += i * 31L ^ sink;
      }
    }
    double after = ProcCpu.self();
    assertTrue(after >= before + 50, "CPU " + before + " -> " + after + " ms (" + sink + ")");
    assertEquals(0, after % 10, 1e-9, "whole 10 ms ticks: " + after);
  }

  @Test
  void millis_ofAnotherLiveProcess_isReadable() throws Exception {
    assumeTrue(ProcCpu.available(), "no /proc");
    Process sleep = new ProcessBuilder("sleep", "5").start();
    try {
      assertTrue(ProcCpu.millis(sleep.pid()) >= 0);
    } finally {
      sleep.destroyForcibly().waitFor();
    }
  }

  @Test
  void millis_ofAnExitedProcess_throwsNamingTheFile() throws Exception {
    assumeTrue(ProcCpu.available(), "no /proc");
    Process done = new ProcessBuilder("true").start();
    done.waitFor();
    UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> ProcCpu.millis(done.pid()));
    assertTrue(e.getMessage().contains("/proc/" + done.pid() + "/stat"), e.getMessage());
  }
}
