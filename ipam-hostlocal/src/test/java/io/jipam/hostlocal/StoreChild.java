package io.jipam.hostlocal;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * A separate JVM working one data directory, for the crash and multi-process tests. Prints one
 * line per event and flushes it before doing anything else:
 *
 * <pre>
 * A NANOTIME ID ADDR...   after allocate returned (NANOTIME read after)
 * R NANOTIME ID           before release is called (NANOTIME read before)
 * X ID OUTCOME            allocate returned something else
 * DONE
 * </pre>
 *
 * Usage: {@code StoreChild crash|churn|claims DATADIR PREFIX OPS SEED [FAST|AUTO|FULL]}. crash: allocate forever
 * (up to OPS), releasing one of its own now and then; churn: OPS rounds of allocate then release; claims:
 * churn on a pool with a sticky rule and a cool-down, as pods of namespace ns.
 */
public final class StoreChild {
  static Pool pool(String mode) {
    if (mode.equals("claims")) { // sticky for namespace db, a cool-down for everyone
      return TestPools.pool(mode, AllocationOrder.ROUND_ROBIN, "198.18.0.0/26").withPolicy(
          new io.jipam.core.store.AddressPolicy(new io.jipam.core.store.StickyRule(
              List.of(io.jipam.core.store.PodPattern.parse("db/*")), java.time.Duration.ofSeconds(600), 25),
              java.time.Duration.ofSeconds(30)));
    }
    return mode.equals("crash")
        ? TestPools.pool(mode, AllocationOrder.ROUND_ROBIN, "198.18.0.0/22", "fd00:9::/64")
        : TestPools.pool(mode, AllocationOrder.ROUND_ROBIN, "198.18.0.0/26");
  }

  /**
   * Starts a child JVM running this class ({@code mode}: its first argument) on the data dir, its
   * stdout to {@code log}. A file, not a pipe: when a child is SIGKILLed, the JDK's draining of a
   * pipe can lose its last lines, while bytes written to a file are in the page cache once
   * write(2) returns.
   */
  static Process launch(String mode, Path dataDir, String prefix, int ops, long seed, HostLocalStore.Mode storeMode,
      Path log) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m",
        "-cp", System.getProperty("java.class.path"), StoreChild.class.getName(), mode, dataDir.toString(), prefix,
        Integer.toString(ops), Long.toString(seed), storeMode.name());
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    pb.redirectOutput(log.toFile());
    return pb.start();
  }

  /** Kills every child still alive and waits (at most 10 s each) for it to end. */
  static void killAll(List<Process> children) throws InterruptedException {
    for (Process p : children) {
      if (p.isAlive()) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  public static void main(String[] args) {
    String mode = args[0];
    Path dataDir = Path.of(args[1]);
    String prefix = args[2];
    int ops = Integer.parseInt(args[3]);
    Random random = new Random(Long.parseLong(args[4]));
    Pool pool = pool(mode);
    PrintStream out = System.out;
    List<Attachment> held = new ArrayList<>();
    HostLocalStore.Mode storeMode = args.length > 5 ? HostLocalStore.Mode.valueOf(args[5]) : HostLocalStore.Mode.AUTO;
    try (IpamStore store = new HostLocalStore(dataDir, FileSync.NONE, storeMode)) {
      for (int i = 0; i < ops; i++) {
        Attachment a = new Attachment(prefix + "-" + i, "eth0");
        AllocationOutcome o = store.allocate(pool, new AllocationRequest(a, List.of(), new PodRef("ns", a.containerId())));
        long t = System.nanoTime();
        if (o instanceof AllocationOutcome.Allocated got) {
          StringBuilder line = new StringBuilder("A ").append(t).append(' ').append(a.containerId());
          for (Allocation x : got.allocations()) {
            line.append(' ').append(x.address());
          }
          out.println(line);
          out.flush();
          held.add(a);
        } else {
          out.println("X " + a.containerId() + " " + o);
          out.flush();
        }
        boolean churn = !mode.equals("crash");
        if (!held.isEmpty() && (churn || held.size() > 40 || random.nextInt(3) == 0)) {
          Attachment victim = held.remove(churn ? 0 : random.nextInt(held.size()));
          out.println("R " + System.nanoTime() + " " + victim.containerId());
          out.flush();
          store.release(pool, victim);
        }
      }
    }
    out.println("DONE");
    out.flush();
  }
}
