package io.jipam.plugin;

import io.jipam.core.cni.JsonReader;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The engine of {@link CrashAtAnyInstantIT}: {@code workers} threads each run real {@code jipam}
 * processes (ADD, DEL, repeated ADD; workers 0 and 1 also GC, one GC at a time) on one data dir,
 * all at once, and SIGKILL about half of them at a random instant. Every kill that lands (exit
 * 137) is a trial, checked at once while the others go on churning:
 *
 * <ul>
 *   <li>the store opens cleanly: the next call on the killed attachment succeeds;
 *   <li>a repeated ADD of the killed attachment returns its held addresses (when it held some
 *       before the killed call) or fresh ones, and the address files naming it are exactly those
 *       returned: nothing leaked;
 *   <li>no address is held twice: every acknowledged address is claimed in a map until its DEL
 *       starts, and a second claim is a violation;
 *   <li>after a killed GC, a GC with the same live attachments leaves no garbage attachment.
 * </ul>
 *
 * Kill instants are drawn from the measured durations of unkilled calls of the same kind: half
 * uniformly over a sampled duration (most land during JVM start-up), half in its last fifth, where
 * the plugin holds the lock and writes its files. How many files a killed call left naming the
 * attachment (none, some, all) is counted to show that kills landed between file writes.
 */
final class CrashChurn {
  static final String IFNAME = "eth0";
  static final int SLOTS = 3;
  private static final int ADD = 0;
  private static final int DEL = 1;
  private static final int GC = 2;
  private static final int SAMPLES = 64;

  final Path dataDir;
  final String network;
  final String ipam;
  final int workers;
  final int targetTrials;
  final long deadlineNanos;

  final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  final ConcurrentHashMap<String, String> claims = new ConcurrentHashMap<>();
  final AtomicInteger trials = new AtomicInteger();
  final AtomicInteger calls = new AtomicInteger();
  /** Killed calls by kind and by how many address files they left naming the attachment. */
  final AtomicInteger[] killedByOp = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
  final AtomicInteger leftNone = new AtomicInteger();
  final AtomicInteger leftPartial = new AtomicInteger();
  final AtomicInteger leftAll = new AtomicInteger();
  final AtomicInteger onWrite = new AtomicInteger();
  final AtomicInteger garbageAdded = new AtomicInteger();
  private final AtomicLongArray durations = new AtomicLongArray(3 * SAMPLES);
  private final AtomicInteger[] sampled = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
  private final ReentrantLock gcLock = new ReentrantLock();
  /** Per worker, per slot: the addresses the slot's attachment holds, or null. */
  final List<String>[][] held;

  @SuppressWarnings("unchecked")
  CrashChurn(Path dataDir, String network, String ipam, int workers, int targetTrials, long seconds) {
    this.dataDir = dataDir;
    this.network = network;
    this.ipam = ipam;
    this.workers = workers;
    this.targetTrials = targetTrials;
    this.deadlineNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    this.held = new List[workers][SLOTS];
  }

  static String id(int worker, int slot) {
    return String.format("w%02d-s%d", worker, slot);
  }

  String conf(String extraTop) {
    return "{\"cniVersion\":\"1.1.0\",\"name\":\"" + network + "\"" + extraTop + ",\"ipam\":{\"type\":\"jipam\","
        + "\"dataDir\":\"" + dataDir + "\"," + ipam + "}}";
  }

  /** The GC config: every attachment of the universe (all workers' slots) is valid. */
  String gcConf(Set<String> validIds) {
    StringBuilder sb = new StringBuilder(",\"cni.dev/valid-attachments\":[");
    String sep = "";
    for (String id : validIds) {
      sb.append(sep).append("{\"containerID\":\"").append(id).append("\",\"ifname\":\"").append(IFNAME).append("\"}");
      sep = ",";
    }
    return conf(sb.append(']').toString());
  }

  Set<String> universe() {
    Set<String> all = new TreeSet<>();
    for (int w = 0; w < workers; w++) {
      for (int s = 0; s < SLOTS; s++) {
        all.add(id(w, s));
      }
    }
    return all;
  }

  boolean done() {
    return trials.get() >= targetTrials || System.nanoTime() > deadlineNanos || violations.size() > 20;
  }

  /** One worker's loop until enough trials or the deadline. */
  void work(int w, Path scratch) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    Path out = scratch.resolve("out-" + w);
    Path err = scratch.resolve("err-" + w);
    int n = 0;
    while (!done()) {
      n++;
      if (w < 2 && n % 3 == 0) {
        gcRound(rnd, out, err);
        continue;
      }
      int slot = rnd.nextInt(SLOTS);
      String id = id(w, slot);
      List<String> before = held[w][slot];
      boolean del = before != null && rnd.nextInt(4) != 0; // else a repeated ADD of a held slot
      int op = del ? DEL : ADD;
      if (del) {
        unclaim(id, before);
      }
      // a third of the kills wait for the call's first visible write and strike right after it
      boolean kill = n > 1 && rnd.nextBoolean();
      Path watch = null;
      if (kill && (del || before == null) && rnd.nextInt(3) == 0) {
        watch = del ? dataDir.resolve(network).resolve(before.get(0))
            : dataDir.resolve(".jipam").resolve(network).resolve("att").resolve(id + "@" + IFNAME);
        onWrite.incrementAndGet();
      }
      Call call = call(op, id, conf(""), kill, watch, del, out, err);
      if (call.killed) {
        killedByOp[op].incrementAndGet();
        trials.incrementAndGet();
        List<String> files = filesNaming(id);
        int expected = del ? before.size() : 2;
        if (files.isEmpty()) {
          leftNone.incrementAndGet();
        } else if (files.size() < expected) {
          leftPartial.incrementAndGet();
        } else {
          leftAll.incrementAndGet();
        }
        // the repeated ADD of the killed attachment
        Call again = call(ADD, id, conf(""), false, null, false, out, err);
        if (again.exit != 0) {
          violations.add(id + ": ADD after a killed " + opName(op) + " failed: " + again.text);
          held[w][slot] = null;
          continue;
        }
        List<String> got = addresses(again.text);
        if (!del && before != null && !new TreeSet<>(got).equals(new TreeSet<>(before))) {
          violations.add(id + ": held " + before + ", ADD after a killed repeated ADD returned " + got);
        }
        claim(id, got);
        checkExactly(id, got, "after a killed " + opName(op));
        held[w][slot] = got;
      } else if (call.exit != 0) {
        violations.add(id + ": " + opName(op) + " failed: " + call.text);
      } else if (del) {
        held[w][slot] = null;
        checkExactly(id, List.of(), "after DEL");
      } else {
        List<String> got = addresses(call.text);
        if (before != null && !new TreeSet<>(got).equals(new TreeSet<>(before))) {
          violations.add(id + ": held " + before + ", repeated ADD returned " + got);
        }
        if (before == null) {
          claim(id, got);
        }
        held[w][slot] = got;
      }
    }
  }

  /** A GC round: a few garbage attachments, a GC naming the universe (always aimed at), checked. */
  private void gcRound(ThreadLocalRandom rnd, Path out, Path err) {
    gcLock.lock();
    try {
      List<String> garbage = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        String g = "garbage-" + garbageAdded.incrementAndGet();
        Call add = call(ADD, g, conf(""), false, null, false, out, err);
        if (add.exit != 0) {
          violations.add(g + ": ADD failed: " + add.text);
          continue;
        }
        claim(g, addresses(add.text));
        garbage.add(g);
      }
      for (String g : garbage) {
        claims.values().removeIf(g::equals); // the GC may release them from now on
      }
      String gc = gcConf(universe());
      Call call = call(GC, null, gc, true, null, false, out, err); // every GC is aimed at
      if (call.killed) {
        killedByOp[GC].incrementAndGet();
        trials.incrementAndGet();
        call = call(GC, null, gc, false, null, false, out, err);
      }
      if (call.exit != 0) {
        violations.add("GC failed: " + call.text);
      }
      for (String g : garbage) {
        checkExactly(g, List.of(), "after GC");
      }
    } finally {
      gcLock.unlock();
    }
  }

  private void claim(String id, List<String> addresses) {
    for (String a : addresses) {
      String was = claims.putIfAbsent(a, id);
      if (was != null && !was.equals(id)) {
        violations.add(a + " handed to " + id + " while held by " + was);
      }
    }
  }

  private void unclaim(String id, List<String> addresses) {
    for (String a : addresses) {
      claims.remove(a, id);
    }
  }

  /** The address files naming {@code id} must be exactly {@code addresses}. */
  void checkExactly(String id, List<String> addresses, String when) {
    List<String> files = filesNaming(id);
    if (!new TreeSet<>(files).equals(new TreeSet<>(addresses))) {
      violations.add(id + " " + when + ": address files " + files + ", expected " + addresses);
    }
  }

  /** Address files under the network dir whose content names {@code id} on {@link #IFNAME}. */
  List<String> filesNaming(String id) {
    byte[] want = (id + "\r\n" + IFNAME).getBytes(StandardCharsets.UTF_8);
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, byte[]> e : addressFiles().entrySet()) {
      if (Arrays.equals(e.getValue(), want)) {
        out.add(e.getKey());
      }
    }
    return out;
  }

  /** Every address file of the network and its content. */
  Map<String, byte[]> addressFiles() {
    Map<String, byte[]> out = new java.util.TreeMap<>();
    try (DirectoryStream<Path> dir = Files.newDirectoryStream(dataDir.resolve(network))) {
      for (Path p : dir) {
        String name = p.getFileName().toString();
        if (name.equals("lock") || name.startsWith("last_reserved_ip.") || name.startsWith(".")) {
          continue;
        }
        try {
          out.put(name, Files.readAllBytes(p));
        } catch (NoSuchFileException e) {
          // released meanwhile
        }
      }
    } catch (NoSuchFileException e) {
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  record Call(boolean killed, int exit, String text) {}

  /** Runs one plugin process; with {@code kill}, SIGKILLs it at an instant drawn as described. */
  Call call(int op, String id, String stdin, boolean kill, Path watch, boolean untilGone, Path out, Path err) {
    Map<String, String> env = CniExec.env(new String[] {"ADD", "DEL", "GC"}[op], id, id == null ? null : IFNAME,
        op == ADD ? "/var/run/netns/" + id : null);
    ProcessBuilder builder = new ProcessBuilder(CniExec.JIPAM.toString());
    builder.environment().clear();
    builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    builder.environment().putAll(env);
    builder.redirectOutput(out.toFile()).redirectError(err.toFile());
    long delay = kill ? killDelay(op) : -1;
    calls.incrementAndGet();
    try {
      long start = System.nanoTime();
      Process p = builder.start();
      try (OutputStream in = p.getOutputStream()) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        if (delay < 0) {
          throw e;
        }
      }
      if (watch != null) {
        // SIGKILL as soon as the watched file appears (ADD: the attachment record) or goes (DEL:
        // the first address file), or when the call would have ended anyway
        long until = start + 2_000_000_000L;
        while (p.isAlive() && System.nanoTime() < until && Files.exists(watch) == untilGone) {
          LockSupport.parkNanos(20_000);
        }
        p.destroyForcibly();
      } else if (delay >= 0) {
        long wait = start + delay - System.nanoTime();
        if (wait > 0) {
          LockSupport.parkNanos(wait);
        }
        p.destroyForcibly(); // SIGKILL
      }
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Call(false, -1, "did not finish within 120 s");
      }
      int exit = p.exitValue();
      if (exit == 137 && delay >= 0) {
        return new Call(true, exit, "");
      }
      if (exit == 0) {
        record(op, System.nanoTime() - start);
      }
      return new Call(false, exit, Files.readString(out) + Files.readString(err));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private void record(int op, long nanos) {
    int i = sampled[op].getAndIncrement();
    durations.set(op * SAMPLES + Math.floorMod(i, SAMPLES), nanos);
  }

  /** Half uniform over a sampled duration, half in its last fifth; 0.3 s before any sample. */
  private long killDelay(int op) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    int have = Math.min(sampled[op].get(), SAMPLES);
    long d = have == 0 ? 300_000_000L : durations.get(op * SAMPLES + rnd.nextInt(have));
    return rnd.nextBoolean() ? (long) (d * rnd.nextDouble()) : (long) (d * (0.8 + 0.25 * rnd.nextDouble()));
  }

  static String opName(int op) {
    return new String[] {"ADD", "DEL", "GC"}[op];
  }

  /** The addresses (without prefix length) of a CNI result. */
  @SuppressWarnings("unchecked")
  static List<String> addresses(String stdout) {
    Map<String, Object> result = (Map<String, Object>) JsonReader.parse(stdout.getBytes(StandardCharsets.UTF_8));
    List<String> out = new ArrayList<>();
    for (Map<String, Object> ip : (List<Map<String, Object>>) result.get("ips")) {
      String a = (String) ip.get("address");
      out.add(a.substring(0, a.indexOf('/')));
    }
    return out;
  }

  String figures(String label, long millis) {
    return label + ": " + trials.get() + " trials (killed ADD " + killedByOp[ADD] + ", DEL " + killedByOp[DEL]
        + ", GC " + killedByOp[GC] + "; a killed ADD/DEL left no file " + leftNone + ", some " + leftPartial
        + ", all " + leftAll + "; " + onWrite + " kills aimed at the first write), " + calls.get() + " plugin processes, " + workers + " concurrent, "
        + millis / 1000.0 + " s, violations " + violations.size();
  }
}
