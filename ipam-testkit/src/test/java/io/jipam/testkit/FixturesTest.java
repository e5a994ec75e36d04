package io.jipam.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The process-free parts of the testkit: waits, ports, and what a run passes and reports. */
class FixturesTest {
  @Test
  void until_conditionHoldsOnThirdPoll_returns() {
    AtomicInteger polls = new AtomicInteger();
    Await.until(() -> polls.incrementAndGet() >= 3, Duration.ofSeconds(10), "three polls");
    assertEquals(3, polls.get());
  }

  @Test
  void until_neverHolds_failsNamingWhatAndTheLastError() {
    AssertionError e = assertThrows(AssertionError.class, () -> Await.until(() -> {
      throw new IllegalStateException("not yet: 42");
    }, Duration.ofMillis(50), "the answer"));
    assertTrue(e.getMessage().contains("the answer"), e.getMessage());
    assertTrue(e.getCause().getMessage().contains("not yet: 42"), String.valueOf(e.getCause()));
  }

  @Test
  void free_manyPorts_distinctAndNonZero() {
    int[] ports = Ports.free(16);
    assertEquals(16, Arrays.stream(ports).distinct().count());
    assertTrue(Arrays.stream(ports).allMatch(p -> p > 0 && p < 65536));
  }

  @Test
  void run_rawBytesAndExactEnvironment_passedUnchanged() {
    byte[] stdin = {0, (byte) 0xff, '\n', (byte) 0xc3, 0x28, 'x'};
    Exec.Result r = Exec.run(null, List.of("/bin/sh", "-c", "printf %s \"$ONLY\" >&2; exec od -An -tx1"),
        Map.of("ONLY", "v", "PATH", Exec.PATH), stdin, Duration.ofSeconds(30));
    assertEquals(0, r.exit(), r::toString);
    assertEquals("v", r.stderr());
    assertArrayEquals(new String[] {"00", "ff", "0a", "c3", "28", "78"}, r.stdout().trim().split("\\s+"));
  }

  @Test
  void run_pastTimeout_killedAndFailsWithOutputSoFar() {
    AssertionError e = assertThrows(AssertionError.class, () -> Exec.run(List.of("/bin/sh", "-c",
        "echo started; exec sleep 60"), null, "", Duration.ofMillis(500)));
    assertTrue(e.getMessage().contains("did not finish") && e.getMessage().contains("started"), e.getMessage());
  }

  @Test
  void ok_nonZeroExit_failsWithTheWholeResult() {
    Exec.Result r = Exec.run(List.of("/bin/sh", "-c", "echo out; echo err >&2; exit 3"), null, "",
        Duration.ofSeconds(30));
    AssertionError e = assertThrows(AssertionError.class, r::ok);
    assertTrue(e.getMessage().contains("exit 3") && e.getMessage().contains("out") && e.getMessage().contains("err"),
        e.getMessage());
    assertEquals("out\n", r.stdout());
  }
}
