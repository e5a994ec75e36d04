package io.jipam.etcd;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.StickyRule;
import io.jipam.core.testing.Concurrently;
import io.jipam.core.testing.TestPools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Child JVM of {@link EtcdClaimsRaceIT}: two stores (nodes {@code <name>-a} and {@code <name>-b})
 * on one sticky pool. Thread 0 restarts two sticky pods, each ADD on either node, and checks each
 * gets back the address its DEL left held; threads 1 and 2 churn other pods on both nodes. Prints
 * {@code A <start micros> <address> <pod>} for every ADD that got an address (its start in
 * wall-clock microseconds, {@link Churn#micros}), {@code V <text>} for every broken promise, then
 * {@code DONE <violations>}.
 */
final class ClaimsChurn {
  static final Pool POOL = TestPools.pool("claims-jvm", AllocationOrder.ROUND_ROBIN, "198.18.40.0/25").withPolicy(
      new AddressPolicy(new StickyRule(List.of(PodPattern.parse("db/*")), Duration.ofMinutes(10), 50), Duration.ZERO));

  private ClaimsChurn() {}

  /** Args: endpoints prefix name. */
  public static void main(String[] args) throws Exception {
    String name = args[2];
    List<EtcdStore> stores = new ArrayList<>();
    for (String node : List.of(name + "-a", name + "-b")) {
      stores.add(EtcdStores.open(EtcdStoreConfig.of(List.of(args[0].split(",")), node).withPrefix(args[1])
          .withBlockSizes(28, 122).withTimeout(Duration.ofSeconds(10))));
    }
    ConcurrentLinkedQueue<String> out = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    try {
      Concurrently.run(3, Duration.ofMinutes(3), t -> {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        IpAddress[] held = new IpAddress[2];
        List<Attachment> mine = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
          EtcdStore s = stores.get(rnd.nextInt(2));
          if (t > 0 && (mine.size() >= 3 || !mine.isEmpty() && rnd.nextBoolean())) {
            s.release(POOL, mine.remove(0));
            continue;
          }
          int k = i % 2;
          PodRef pod = t == 0 ? new PodRef("db", name + "-s" + k) : new PodRef("ns", name + "-o" + t + "-" + i);
          String id = name + "-" + t + "-" + i;
          long start = Churn.micros();
          AllocationOutcome got = s.allocate(POOL, new AllocationRequest(new Attachment(id, "eth0"), List.of(), pod));
          if (!(got instanceof AllocationOutcome.Allocated a)) {
            continue; // a tight pool may be exhausted for a moment
          }
          IpAddress address = a.allocations().get(0).address();
          out.add("A " + start + " " + address + " " + pod);
          if (t > 0) {
            mine.add(new Attachment(id, "eth0"));
            continue;
          }
          if (held[k] != null && (!held[k].equals(address) || a.origins().get(0) != AllocationOrigin.STICKY)) {
            violations.add(pod + " got " + address + " " + a.origins() + ", its hold was " + held[k]);
          }
          stores.get(rnd.nextInt(2)).release(POOL, new Attachment(id, "eth0"));
          held[k] = null;
          for (Claim c : s.claims(POOL)) {
            if (c.kind() == Claim.Kind.HOLD && c.pod().equals(pod)) {
              held[k] = c.address();
            }
          }
        }
      });
    } finally {
      stores.forEach(EtcdStore::close);
    }
    StringBuilder text = new StringBuilder();
    out.forEach(l -> text.append(l).append('\n'));
    violations.forEach(v -> text.append("V ").append(v.replace('\n', ' ')).append('\n'));
    text.append("DONE ").append(violations.size()).append('\n');
    System.out.print(text);
    System.out.flush();
    System.exit(0);
  }
}
