package io.jipam.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link CoalescedReads}: many requests, one read at a time, every request answered by a read that
 * started after it, a bound on the waiting, failures passed on.
 */
@Timeout(30)
class CoalescedReadsTest {
  /** A reader whose reads are numbered from 1 and each wait for {@link #release} while {@code hold} is set. */
  static final class GatedReader {
    final AtomicInteger started = new AtomicInteger();
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger mostAtOnce = new AtomicInteger();
    final CountDownLatch firstStarted = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    Integer read() {
      int n = started.incrementAndGet();
      mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
      firstStarted.countDown();
      try {
        assertTrue(release.await(20, TimeUnit.SECONDS), "never released");
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      } finally {
        running.decrementAndGet();
      }
      return n;
    }
  }

  static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "condition not reached within 20 s");
      Thread.sleep(1);
    }
  }

  @Test
  void ask_manyWhileOneReads_oneReadAtATimeEachAnsweredByALaterRead() throws Exception {
    GatedReader reader = new GatedReader();
    try (CoalescedReads<Integer> reads = new CoalescedReads<>("test-reads", reader::read, 1000)) {
      ConcurrentHashMap<String, CoalescedReads.Outcome<Integer>> answers = new ConcurrentHashMap<>();
      assertTrue(reads.ask(o -> answers.put("first", o)));
      assertTrue(reader.firstStarted.await(20, TimeUnit.SECONDS));
      for (int i = 0; i < 200; i++) {
        String name = "later-" + i;
        assertTrue(reads.ask(o -> answers.put(name, o)));
      }
      assertEquals(200, reads.waiting(), "all wait for the next read, none starts one");
      reader.release.countDown();
      waitFor(() -> answers.size() == 201);
      assertEquals(2, reader.started.get(), "the first read, then one for all who asked during it");
      assertEquals(1, reader.mostAtOnce.get());
      assertEquals(1, answers.get("first").value());
      answers.forEach((name, outcome) -> {
        if (!name.equals("first")) {
          assertEquals(2, outcome.value(), name + " asked while read 1 ran: it gets read 2");
        }
      });
      assertTrue(reads.ask(o -> answers.put("after", o)));
      waitFor(() -> answers.containsKey("after"));
      assertEquals(3, answers.get("after").value(), "a request after the reads gets a read of its own");
    }
  }

  @Test
  void ask_boundOfWaitingReached_refusedAndNeverAnswered() throws Exception {
    GatedReader reader = new GatedReader();
    try (CoalescedReads<Integer> reads = new CoalescedReads<>("test-reads", reader::read, 3)) {
      AtomicInteger answered = new AtomicInteger();
      assertTrue(reads.ask(o -> answered.incrementAndGet()));
      assertTrue(reader.firstStarted.await(20, TimeUnit.SECONDS));
      List<Boolean> asked = List.of(reads.ask(o -> answered.incrementAndGet()), reads.ask(o -> answered.incrementAndGet()),
          reads.ask(o -> answered.incrementAndGet()), reads.ask(o -> answered.incrementAndGet()));
      assertEquals(List.of(true, true, true, false), asked);
      reader.release.countDown();
      waitFor(() -> answered.get() == 4);
      assertEquals(2, reader.started.get());
    }
  }

  @Test
  void ask_readerThrows_failurePassedOnAndTheNextAskReadsAgain() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (CoalescedReads<String> reads = new CoalescedReads<>("test-reads", () -> {
      if (calls.incrementAndGet() == 1) {
        throw new IllegalStateException("store \"down\"");
      }
      return "text";
    }, 10)) {
      ConcurrentHashMap<Integer, CoalescedReads.Outcome<String>> answers = new ConcurrentHashMap<>();
      assertTrue(reads.ask(o -> answers.put(1, o)));
      waitFor(() -> answers.containsKey(1));
      assertNull(answers.get(1).value());
      assertEquals("store \"down\"", answers.get(1).failure().getMessage());
      assertTrue(reads.ask(o -> answers.put(2, o)));
      waitFor(() -> answers.containsKey(2));
      assertEquals("text", answers.get(2).value());
    }
  }

  @Test
  void ask_readerThrowsAnErrorAndAnAnswerThrows_othersAnsweredAndTheNextAskReadsAgain() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    CountDownLatch firstStarted = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (CoalescedReads<String> reads = new CoalescedReads<>("test-reads", () -> {
      int n = calls.incrementAndGet();
      if (n == 1) {
        firstStarted.countDown();
        try {
          assertTrue(release.await(20, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      } else if (n == 2) {
        throw new StackOverflowError("deep");
      }
      return "text " + n;
    }, 10)) {
      ConcurrentHashMap<String, CoalescedReads.Outcome<String>> answers = new ConcurrentHashMap<>();
      assertTrue(reads.ask(o -> answers.put("first", o)));
      assertTrue(firstStarted.await(20, TimeUnit.SECONDS));
      assertTrue(reads.ask(o -> {
        throw new IllegalStateException("this answer cannot be delivered");
      }));
      assertTrue(reads.ask(o -> {
        throw new OutOfMemoryError("nor this one"); // it stopped every later read
      }));
      assertTrue(reads.ask(o -> answers.put("beside it", o)));
      release.countDown();
      waitFor(() -> answers.containsKey("beside it"));
      assertEquals("text 1", answers.get("first").value());
      assertTrue(answers.get("beside it").failure().getMessage().contains("StackOverflowError: deep"),
          String.valueOf(answers.get("beside it")));
      assertTrue(reads.ask(o -> answers.put("after", o)));
      waitFor(() -> answers.containsKey("after"));
      assertEquals("text 3", answers.get("after").value(), "the reader's thread goes on");
    }
  }

  @Test
  void close_requestsWaitingForTheNextRead_answeredStoppingAndTheReadRunningAnswersItsOwn() throws Exception {
    GatedReader reader = new GatedReader();
    CoalescedReads<Integer> reads = new CoalescedReads<>("test-reads", reader::read, 10);
    ConcurrentHashMap<String, CoalescedReads.Outcome<Integer>> answers = new ConcurrentHashMap<>();
    assertTrue(reads.ask(o -> answers.put("running", o)));
    assertTrue(reader.firstStarted.await(20, TimeUnit.SECONDS));
    assertTrue(reads.ask(o -> answers.put("waiting", o)));
    reads.close();
    assertEquals("jipamd is stopping", answers.get("waiting").failure().getMessage(), "answered at close");
    reader.release.countDown();
    waitFor(() -> answers.containsKey("running"));
    assertEquals(1, answers.get("running").value());
    assertEquals(1, reader.started.get(), "no read after close");
  }

  @Test
  void ask_afterClose_refused() {
    CoalescedReads<String> reads = new CoalescedReads<>("test-reads", () -> "text", 10);
    reads.close();
    assertFalse(reads.ask(o -> {
      throw new AssertionError("answered after close");
    }));
  }
}
