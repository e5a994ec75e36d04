package io.jipam.bench.tools;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import java.nio.file.Path;
import java.util.List;

/**
 * Measures ADD, CHECK (find) and DEL in process at a given fill, with a long-lived
 * store and with a fresh store per call (what the one-shot plugin does). Usage: {@code CostProbe
 * DATADIR FILL CALLS}.
 */
public final class CostProbe {
  public static void main(String[] args) {
    Path dataDir = Path.of(args[0]);
    int fill = Integer.parseInt(args[1]);
    int calls = Integer.parseInt(args[2]);
    Pool pool = new Pool("cost", List.of(new RangeSet(List.of(IpRange.withDefaults(
        Cidr.parse("10.0.0.0/16"), null, null, null, null)))), AllocationOrder.ROUND_ROBIN);
    try (IpamStore s = HostLocalStores.open(dataDir)) {
      for (int i = s.list(pool).size(); i < fill; i++) {
        s.allocate(pool, AllocationRequest.of(new Attachment("fill" + i, "eth0")));
      }
    }
    for (boolean fresh : new boolean[] {false, true}) {
      IpamStore longLived = HostLocalStores.open(dataDir);
      long add = 0;
      long find = 0;
      long del = 0;
      for (int i = 0; i < calls; i++) {
        Attachment a = new Attachment("probe" + i, "eth0");
        IpamStore s = fresh ? HostLocalStores.open(dataDir) : longLived;
        long t0 = System.nanoTime();
        s.allocate(pool, AllocationRequest.of(a));
        long t1 = System.nanoTime();
        s = fresh ? HostLocalStores.open(dataDir) : longLived;
        s.find(pool, a);
        long t2 = System.nanoTime();
        s = fresh ? HostLocalStores.open(dataDir) : longLived;
        s.release(pool, a);
        long t3 = System.nanoTime();
        if (i >= calls / 5) { // skip warm-up
          add += t1 - t0;
          find += t2 - t1;
          del += t3 - t2;
        }
      }
      int n = calls - calls / 5;
      System.out.printf("fill=%d %s: ADD %.3f ms, CHECK %.3f ms, DEL %.3f ms%n", fill,
          fresh ? "fresh store per call" : "long-lived store", add / 1e6 / n, find / 1e6 / n, del / 1e6 / n);
    }
  }
}
