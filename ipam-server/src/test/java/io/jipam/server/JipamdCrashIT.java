package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import io.jipam.ctl.Jipamctl;
import io.jipam.testkit.ClassArchive;
import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Crash at any instant, service. jipamd (a child process, file store with fsync, configured by its
 * YAML file) serves 64 concurrent clients that allocate and release over gRPC on its unix socket,
 * each call with a deadline; at a random moment it is SIGKILLed and restarted, 20 times (at least 10
 * within the time bound; {@code jipam.jipamd.crash.trials} and {@code .minTrials} change them).
 *
 * <p>Each client owns a few slots; a slot holds one attachment at a time, which is FREE, HELD (its
 * allocation was acknowledged: the addresses are known) or UNKNOWN (a call about it failed: it may
 * or may not have been applied). Invariants:
 * <ul>
 *   <li><b>No address twice.</b> An acknowledged address is claimed by its attachment until that
 *       attachment's release is sent; an acknowledgement of a claimed address to another
 *       attachment fails the test. After each restart the data dir (read raw, as files, while
 *       jipamd is down) and jipamd's own list name each attachment with at most one address per
 *       range set, and {@code jipamctl check} against the restarted jipamd is clean.
 *   <li><b>No acknowledged allocation lost.</b> Every HELD attachment's addresses are in the data
 *       dir, and listed by the restarted jipamd, naming it.
 *   <li><b>No release lost.</b> An attachment whose release was acknowledged is in neither (unless
 *       its allocate failed on a deadline while the same jipamd still ran, so that the allocate
 *       may have run after the release: such a late allocate is counted and cleaned up).
 *   <li><b>Never silence past the deadline.</b> Every call returns or throws within its deadline
 *       (plus a slack for scheduling on a loaded machine); the calls in flight at each kill are
 *       counted by outcome.
 * </ul>
 * After each check, an UNKNOWN attachment is resolved from what the restarted jipamd lists; at the
 * end every attachment is released and the data dir holds no address file.
 *
 * <p>Between a restart and the next kill jipamd acknowledges a random number of calls, 1 to
 * {@code acks}, or serves for {@code loadMillis}, whichever comes first; the kill comes 0 to 20 ms
 * later. Counting acknowledgements rather than time puts kills among served calls however slow the
 * machine is. Clients wait while the checker works (kill, data dir, restart, list, jipamctl).
 *
 * <p>Counts from system properties {@code jipam.jipamd.crash.*}: {@code trials} (20), {@code
 * clients} (64), {@code store} (file), {@code seconds} (90 from the test's start: no trial starts
 * after that; fewer than {@code minTrials}, 10, fail), {@code deadlineMillis} (5000), {@code
 * slackMillis} (500), {@code acks} (32), {@code loadMillis} (2000).
 */
@Isolated // kills jipamd mid-call and sets system properties: alone, not beside another IT class
class JipamdCrashIT {
  static final int TRIALS = Integer.getInteger("jipam.jipamd.crash.trials", 20);
  /** jipamd's store; the data dir checks read the host-local layout, so: file (memory shows the test failing). */
  static final String STORE = System.getProperty("jipam.jipamd.crash.store", "file");
  static final int CLIENTS = Integer.getInteger("jipam.jipamd.crash.clients", 64);
  static final int SECONDS = Integer.getInteger("jipam.jipamd.crash.seconds", 90);
  /** Fewer trials than this within the time bound fail the test: too few kills to mean anything. */
  static final int MIN_TRIALS = Integer.getInteger("jipam.jipamd.crash.minTrials", 10);
  static final Duration DEADLINE = Duration.ofMillis(Integer.getInteger("jipam.jipamd.crash.deadlineMillis", 5000));
  static final long SLACK_MILLIS = Integer.getInteger("jipam.jipamd.crash.slackMillis", 500);
  static final int ACKS = Integer.getInteger("jipam.jipamd.crash.acks", 32);
  static final int LOAD_MILLIS = Integer.getInteger("jipam.jipamd.crash.loadMillis", 2000);

  static {
    // each kill breaks the clients' connections, which Vert.x logs as errors: expected here, and noise
    System.setProperty("org.slf4j.simpleLogger.log.io.vertx.core.net.impl.ConnectionBase", "off");
  }
  static final int SLOTS = 4;
  static final int CONNECTIONS = 8;

  @TempDir Path dir;

  enum State { FREE, HELD, UNKNOWN }

  /** One attachment slot of a client: written by its client under the read lock, by the checker under the write lock. */
  static final class Slot {
    final int client;
    final int index;
    int generation;
    Attachment attachment;
    State state = State.FREE;
    List<Allocation> held = List.of();
    /** The jipamd run (epoch) of the last failed allocate of this attachment, -1 if none. */
    int failedAllocateEpoch = -1;

    Slot(int client, int index) {
      this.client = client;
      this.index = index;
    }

    Attachment fresh() {
      attachment = new Attachment("c" + client + "-" + index + "-" + (++generation), "eth0");
      failedAllocateEpoch = -1;
      return attachment;
    }
  }

  final Pool pool = TestPools.pool("crashd", AllocationOrder.ROUND_ROBIN, "198.18.72.0/23", "fd00:18:72::/119");
  final Slot[][] slots = new Slot[CLIENTS][SLOTS];
  final ReentrantReadWriteLock lock = new ReentrantReadWriteLock(true);
  final Map<IpAddress, Attachment> claims = new ConcurrentHashMap<>();
  /** Released after a failed allocate in the same jipamd run: that allocate may still apply. Attachment to epoch. */
  final Map<Attachment, Integer> suspects = new ConcurrentHashMap<>();
  final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
  final Map<Long, Long> inFlight = new ConcurrentHashMap<>();
  final Set<Long> inFlightAtKill = ConcurrentHashMap.newKeySet();
  volatile int epoch;

  final AtomicLong calls = new AtomicLong();
  final AtomicLong acknowledged = new AtomicLong();
  final AtomicLong errors = new AtomicLong();
  final AtomicLong exhausted = new AtomicLong();
  final AtomicLong atKill = new AtomicLong();
  final AtomicLong atKillResults = new AtomicLong();
  final AtomicLong atKillErrors = new AtomicLong();
  final AtomicLong pastDeadline = new AtomicLong();
  final AtomicLong overDeadline = new AtomicLong();
  final AtomicLong maxMillis = new AtomicLong();
  final AtomicLong lateAllocates = new AtomicLong();
  final AtomicLong unknownApplied = new AtomicLong();
  final AtomicLong unknownNotApplied = new AtomicLong();
  final AtomicLong unknownPartial = new AtomicLong();

  @Test
  void sigkill_underLoadFrom64Clients_noDuplicateNoLossNoSilence() throws Exception {
    Path socket = dir.resolve("jipam.sock");
    Path data = dir.resolve("data");
    Path config = dir.resolve("jipamd.yaml");
    Files.writeString(config, "store: " + STORE + "\ndata-dir: " + data + "\nfsync: true\nsocket: " + socket + "\n");
    List<String> args = List.of("--config", config.toString());
    for (int c = 0; c < CLIENTS; c++) {
      for (int s = 0; s < SLOTS; s++) {
        slots[c][s] = new Slot(c, s);
      }
    }
    RemoteStore.Target target = RemoteStore.Target.parse("unix:" + socket).withTimeout(DEADLINE);
    List<RemoteStore> connections = new ArrayList<>();
    for (int i = 0; i < CONNECTIONS; i++) {
      connections.add(RemoteStore.connect(target));
    }
    RemoteStore probe = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket).withTimeout(Duration.ofSeconds(20)));
    long start = System.nanoTime();
    int trials = 0;
    JipamdProcess jipamd = ServerJipamd.start(dir, args.toArray(String[]::new));
    try {
      // a first run, stopped cleanly: it warms the data dir and, when no earlier jipamd of this
      // test JVM has, records the class archive the later starts map
      for (int i = 0; i < 5; i++) {
        Attachment a = new Attachment("warm-" + i, "eth0");
        probe.allocate(pool, AllocationRequest.of(a));
        probe.find(pool, a);
        probe.release(pool, a);
      }
      jipamctlCheck(socket);
      int trained = jipamd.stop();
      assertTrue(trained == 0 || trained == 143, "exit " + trained + ":\n" + jipamd.output());
      trainMillis = (System.nanoTime() - start) / 1_000_000;
      jipamd = ServerJipamd.start(dir, args.toArray(String[]::new));
      trials = churn(args, data, probe, connections, socket, jipamd, start + TimeUnit.SECONDS.toNanos(SECONDS));
      jipamd = current;
      // everything still held or unknown is released (a GC keeping nothing); then nothing is left
      Set<Attachment> live = new java.util.HashSet<>();
      Set<Attachment> acknowledgedHeld = new java.util.HashSet<>();
      for (Slot[] client : slots) {
        for (Slot s : client) {
          if (s.state != State.FREE) {
            live.add(s.attachment);
          }
          if (s.state == State.HELD) {
            acknowledgedHeld.add(s.attachment);
          }
        }
      }
      live.addAll(suspects.keySet());
      Set<Attachment> released = new java.util.HashSet<>();
      probe.retainOnly(pool, Set.of()).forEach(a -> released.add(a.attachment()));
      assertTrue(live.containsAll(released), "the final GC released attachments no client held: " + released);
      assertTrue(released.containsAll(acknowledgedHeld), "the final GC did not find every held attachment");
      assertEquals(List.of(), probe.list(pool), "after releasing every attachment");
      assertEquals(Map.of(), addressFiles(data.resolve(pool.name())), "address files after releasing every attachment");
      int exit = jipamd.stop();
      assertTrue(exit == 0 || exit == 143, "exit " + exit + ":\n" + jipamd.output());
    } finally {
      if (current != null && current.process().isAlive()) {
        current.kill();
      }
      if (jipamd.process().isAlive()) {
        jipamd.kill();
      }
      probe.close();
      connections.forEach(RemoteStore::close);
    }
    long millis = (System.nanoTime() - start) / 1_000_000;
    System.out.println("JipamdCrashIT trials " + trials + " (SIGKILL under load), " + CLIENTS + " clients on "
        + CONNECTIONS + " connections, " + millis + " ms (first jipamd, stopped cleanly: " + trainMillis
        + " ms; per trial: calls in flight ended "
        + perTrial(drainNanos, trials) + " ms after the kill, jipamd ready after " + perTrial(restartNanos, trials)
        + " ms (max " + maxRestartNanos / 1_000_000 + "), list " + perTrial(listNanos, trials) + " ms, jipamctl check "
        + perTrial(checkNanos, trials) + " ms; "
        + "child JVM " + String.join(" ", JipamdProcess.LEAN_JVM) + ", " + ClassArchive.of(Jipamd.class.getName())
        + "); calls " + calls + " (acknowledged " + acknowledged + ", exhausted " + exhausted
        + ", errors " + errors + "); in flight at a kill " + atKill + " (results " + atKillResults + ", errors "
        + atKillErrors + "); slowest call " + maxMillis + " ms against a deadline of " + DEADLINE.toMillis()
        + " ms, past it " + overDeadline + ", past it + " + SLACK_MILLIS + " ms " + pastDeadline
        + "; unknown outcomes found applied "
        + unknownApplied + ", not applied " + unknownNotApplied + ", partly " + unknownPartial + "; late allocates "
        + lateAllocates + "; violations " + violations.size());
    assertEquals(List.of(), violations);
    assertEquals(0, pastDeadline.get(), "calls silent past their deadline");
    assertTrue(trials >= Math.min(TRIALS, MIN_TRIALS), "too few trials within " + SECONDS + " s: " + trials);
    assertTrue(atKill.get() > 0, "no call was in flight at any kill");
  }

  /** The jipamd running now (the churn restarts it). */
  private JipamdProcess current;
  private long restartNanos;
  private long maxRestartNanos;
  private long drainNanos;
  private long listNanos;
  private long trainMillis;
  private long checkNanos;

  /** Kills and restarts jipamd under the clients' load, checking after each kill; returns the trials. */
  private int churn(List<String> args, Path data, RemoteStore probe,
      List<RemoteStore> connections, Path socket, JipamdProcess first, long bound) throws Exception {
    current = first;
    int trials = 0;
    AtomicBoolean stop = new AtomicBoolean();
    try (Concurrently load = Concurrently.start(CLIENTS, c -> client(c, connections.get(c % CONNECTIONS), stop))) {
      while (trials < TRIALS && System.nanoTime() < bound) {
        long goal = acknowledged.get() + ThreadLocalRandom.current().nextInt(1, ACKS + 1);
        long loadEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LOAD_MILLIS);
        while (acknowledged.get() < goal && System.nanoTime() < loadEnd) {
          Thread.sleep(1);
        }
        Thread.sleep(ThreadLocalRandom.current().nextInt(21));
        current.kill();
        epoch++;
        for (Long token : inFlight.keySet()) {
          inFlightAtKill.add(token);
          if (!inFlight.containsKey(token)) {
            inFlightAtKill.remove(token); // it ended meanwhile (its client removes it from inFlight first)
          }
        }
        trials++;
        long t0 = System.nanoTime();
        lock.writeLock().lock(); // waits for the calls in flight: each ends within its deadline
        try {
          long t1 = System.nanoTime();
          drainNanos += t1 - t0;
          assertTrue(inFlightAtKill.isEmpty(), "calls in flight at the kill still running: " + inFlightAtKill);
          checkDataDir(data.resolve(pool.name()), "after kill " + trials);
          current = ServerJipamd.start(dir, args.toArray(String[]::new));
          long t2 = System.nanoTime();
          restartNanos += t2 - t1;
          maxRestartNanos = Math.max(maxRestartNanos, t2 - t1);
          checkServed(probe, "after restart " + trials);
          long t3 = System.nanoTime();
          listNanos += t3 - t2;
          jipamctlCheck(socket);
          checkNanos += System.nanoTime() - t3;
        } finally {
          lock.writeLock().unlock();
        }
        assertEquals(List.of(), violations, "violations (trial " + trials + ")\n" + current.output());
      }
      stop.set(true);
      load.await(Duration.ofSeconds(60));
    }
    return trials;
  }

  private static long perTrial(long nanos, int trials) {
    return trials == 0 ? 0 : nanos / trials / 1_000_000;
  }

  /** One client: random steps on its slots until stopped; a failed step backs off a little. */
  private void client(int c, RemoteStore store, AtomicBoolean stop) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    while (!stop.get()) {
      Slot slot = slots[c][rnd.nextInt(SLOTS)];
      boolean failed;
      lock.readLock().lock();
      try {
        failed = step(slot, store, rnd);
      } finally {
        lock.readLock().unlock();
      }
      if (failed) {
        try {
          Thread.sleep(50 + rnd.nextInt(50));
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  /** One call about the slot; true when it failed. */
  private boolean step(Slot slot, RemoteStore store, ThreadLocalRandom rnd) {
    long token = calls.incrementAndGet();
    long t0 = System.nanoTime();
    int callEpoch = epoch;
    inFlight.put(token, t0);
    boolean failed = false;
    String what = "";
    try {
      switch (slot.state) {
        case FREE -> {
          Attachment a = slot.fresh();
          what = "allocate " + a;
          try {
            AllocationOutcome outcome = store.allocate(pool, AllocationRequest.of(a));
            if (outcome instanceof AllocationOutcome.Allocated ok) {
              if (ok.existing()) {
                violations.add("allocate of new " + a + " answered existing " + ok.allocations());
              }
              claim(a, ok.allocations(), "allocate");
              slot.held = ok.allocations();
              slot.state = State.HELD;
              acknowledged.incrementAndGet();
            } else if (outcome instanceof AllocationOutcome.Exhausted) {
              exhausted.incrementAndGet();
            } else {
              violations.add("allocate of " + a + ": unexpected outcome " + outcome);
            }
          } catch (IpamException e) {
            slot.state = State.UNKNOWN;
            slot.failedAllocateEpoch = callEpoch;
            failed = true;
          }
        }
        case HELD -> {
          Attachment a = slot.attachment;
          if (rnd.nextInt(8) == 0) {
            what = "repeated allocate " + a;
            try {
              AllocationOutcome outcome = store.allocate(pool, AllocationRequest.of(a));
              if (!(outcome instanceof AllocationOutcome.Allocated ok) || !ok.existing()
                  || !sameAddresses(ok.allocations(), slot.held)) {
                violations.add("repeated allocate of " + a + " holding " + slot.held + " answered " + outcome);
              }
              acknowledged.incrementAndGet();
            } catch (IpamException e) {
              slot.failedAllocateEpoch = callEpoch; // still held; but it may run after a release
              failed = true;
            }
          } else {
            what = "release " + a;
            for (Allocation held : slot.held) {
              claims.remove(held.address(), a); // from now on the address may go to another
            }
            try {
              List<Allocation> released = store.release(pool, a);
              if (!sameAddresses(released, slot.held)) {
                violations.add("release of " + a + " holding " + slot.held + " released " + released);
              }
              if (slot.failedAllocateEpoch == callEpoch) {
                suspects.put(a, callEpoch);
              }
              slot.state = State.FREE;
              slot.held = List.of();
              acknowledged.incrementAndGet();
            } catch (IpamException e) {
              slot.state = State.UNKNOWN;
              slot.held = List.of();
              failed = true;
            }
          }
        }
        case UNKNOWN -> {
          Attachment a = slot.attachment;
          what = "release of unknown " + a;
          try {
            store.release(pool, a);
            if (slot.failedAllocateEpoch == callEpoch) {
              suspects.put(a, callEpoch);
            }
            slot.state = State.FREE;
            acknowledged.incrementAndGet();
          } catch (IpamException e) {
            failed = true;
          }
        }
        default -> throw new IllegalStateException();
      }
    } catch (RuntimeException e) {
      violations.add(what + ": neither a result nor an IpamException: " + e);
      failed = true;
    } finally {
      long millis = (System.nanoTime() - t0) / 1_000_000;
      inFlight.remove(token);
      maxMillis.accumulateAndGet(millis, Math::max);
      if (millis > DEADLINE.toMillis()) {
        overDeadline.incrementAndGet();
      }
      if (millis > DEADLINE.toMillis() + SLACK_MILLIS) {
        pastDeadline.incrementAndGet();
        violations.add(what + " took " + millis + " ms, deadline " + DEADLINE.toMillis() + " ms");
      }
      if (failed) {
        errors.incrementAndGet();
      }
      if (inFlightAtKill.remove(token)) {
        atKill.incrementAndGet();
        (failed ? atKillErrors : atKillResults).incrementAndGet();
      }
    }
    return failed;
  }

  private void claim(Attachment a, List<Allocation> allocations, String how) {
    for (Allocation x : allocations) {
      Attachment before = claims.putIfAbsent(x.address(), a);
      if (before != null && !before.equals(a)) {
        violations.add(how + ": " + x.address() + " given to " + a + " while " + before + " holds it");
      }
    }
  }

  private static boolean sameAddresses(List<Allocation> a, List<Allocation> b) {
    return a.stream().map(Allocation::address).sorted().toList()
        .equals(b.stream().map(Allocation::address).sorted().toList());
  }

  /** Address to holder, from the host-local layout's files (canonical address names), read as they are. */
  static Map<IpAddress, Attachment> addressFiles(Path network) throws IOException {
    Map<IpAddress, Attachment> out = new HashMap<>();
    if (!Files.isDirectory(network)) {
      return out;
    }
    try (Stream<Path> files = Files.list(network)) {
      for (Path f : files.toList()) {
        String name = f.getFileName().toString();
        IpAddress address;
        try {
          address = IpAddress.parse(name);
        } catch (RuntimeException e) {
          continue;
        }
        if (!address.toString().equals(name)) {
          continue;
        }
        String text = new String(Files.readAllBytes(f), StandardCharsets.UTF_8);
        String[] lines = text.split("\r\n", -1);
        out.put(address, new Attachment(lines[0].trim(), lines.length > 1 ? lines[1].trim() : "?"));
      }
    }
    return out;
  }

  /** While jipamd is down: the data dir against the model. */
  private void checkDataDir(Path network, String when) throws IOException {
    Map<Attachment, List<IpAddress>> byHolder = new HashMap<>();
    addressFiles(network).forEach((address, holder) ->
        byHolder.computeIfAbsent(holder, h -> new ArrayList<>()).add(address));
    compare(byHolder, "data dir " + when);
  }

  /** After a restart, nothing else running: jipamd's list against the model; resolves UNKNOWN slots and suspects. */
  private void checkServed(RemoteStore probe, String when) {
    Map<Attachment, List<IpAddress>> byHolder = new HashMap<>();
    Map<Attachment, List<Allocation>> allocations = new HashMap<>();
    for (Allocation a : probe.list(pool)) {
      byHolder.computeIfAbsent(a.attachment(), h -> new ArrayList<>()).add(a.address());
      allocations.computeIfAbsent(a.attachment(), h -> new ArrayList<>()).add(a);
    }
    compare(byHolder, "jipamd's list " + when);
    Map<Attachment, Slot> byAttachment = slotsByAttachment();
    for (Slot s : byAttachment.values()) {
      if (s.state != State.UNKNOWN) {
        continue;
      }
      List<IpAddress> there = byHolder.getOrDefault(s.attachment, List.of());
      if (there.isEmpty()) {
        s.state = State.FREE;
        unknownNotApplied.incrementAndGet();
      } else if (there.size() == pool.rangeSets().size()) {
        s.held = allocations.get(s.attachment).stream()
            .sorted(java.util.Comparator.comparingInt(Allocation::rangeSetIndex)).toList();
        s.state = State.HELD;
        s.failedAllocateEpoch = -1;
        claim(s.attachment, s.held, "unknown found applied");
        unknownApplied.incrementAndGet();
      } else {
        unknownPartial.incrementAndGet(); // its client releases it
      }
    }
    for (Map.Entry<Attachment, Integer> e : List.copyOf(suspects.entrySet())) {
      if (e.getValue() == epoch) {
        continue; // its jipamd still runs: the allocate may still come
      }
      if (byHolder.containsKey(e.getKey())) {
        lateAllocates.incrementAndGet();
        probe.release(pool, e.getKey());
      }
      suspects.remove(e.getKey());
    }
  }

  private Map<Attachment, Slot> slotsByAttachment() {
    Map<Attachment, Slot> out = new HashMap<>();
    for (Slot[] client : slots) {
      for (Slot s : client) {
        if (s.attachment != null) {
          out.put(s.attachment, s);
        }
      }
    }
    return out;
  }

  private void compare(Map<Attachment, List<IpAddress>> byHolder, String where) {
    Map<Attachment, Slot> byAttachment = slotsByAttachment();
    for (Slot s : byAttachment.values()) {
      if (s.state == State.HELD) {
        List<IpAddress> want = s.held.stream().map(Allocation::address).sorted().toList();
        List<IpAddress> got = byHolder.getOrDefault(s.attachment, List.of()).stream().sorted().toList();
        if (!want.equals(got)) {
          violations.add(where + ": acknowledged " + s.attachment + " holds " + want + ", found " + got);
        }
      }
    }
    byHolder.forEach((holder, addresses) -> {
      Slot s = byAttachment.get(holder);
      boolean live = s != null && s.attachment.equals(holder) && s.state != State.FREE;
      if (!live && !suspects.containsKey(holder)) {
        violations.add(where + ": " + holder + " holds " + addresses + " but its release was acknowledged"
            + " (or it was never allocated)");
      }
      Set<Integer> sets = new java.util.HashSet<>();
      for (IpAddress a : addresses) {
        int set = pool.rangeSetIndexOf(a);
        if (set < 0 || !sets.add(set)) {
          violations.add(where + ": " + holder + " holds " + addresses + ": not one address per range set");
        }
      }
    });
  }

  /** jipamctl check (its code, in this JVM) against jipamd: clean, and it saw the pool. */
  private void jipamctlCheck(Path socket) {
    StringWriter out = new StringWriter();
    int exit = Jipamctl.commandLine().setOut(new PrintWriter(out, true)).setErr(new PrintWriter(out, true))
        .execute("--server", "unix:" + socket, "--timeout", "20", "check");
    if (exit != 0 || !out.toString().contains("checked 1 pools")) {
      violations.add("jipamctl check: exit " + exit + ": " + out);
    }
  }
}
