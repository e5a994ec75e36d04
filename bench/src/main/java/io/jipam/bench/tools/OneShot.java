package io.jipam.bench.tools;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One call per JVM, as the plugin makes it, for timing with {@code hyperfine -N}.
 * {@code OneShot DATADIR add|del|check ID}, or {@code OneShot DATADIR fill N} to write N address
 * files in host-local's format (pool "bench", 10.0.0.0/16, round robin) plus the cursor.
 */
public final class OneShot {
  static final Pool POOL = new Pool("bench", List.of(new RangeSet(List.of(IpRange.withDefaults(
      Cidr.parse("10.0.0.0/16"), null, null, null, null)))), AllocationOrder.ROUND_ROBIN);

  public static void main(String[] args) throws Exception {
    Path dataDir = Path.of(args[0]);
    if (args[1].equals("fill")) {
      int n = Integer.parseInt(args[2]);
      Path dir = dataDir.resolve("bench");
      Files.createDirectories(dir);
      IpAddress last = null;
      for (int i = 0; i < n; i++) {
        IpAddress a = IpAddress.parse("10.0." + ((i + 2) >> 8) + "." + ((i + 2) & 255));
        Files.write(dir.resolve(a.toString()), ("fill" + i + "\r\neth0").getBytes(StandardCharsets.UTF_8));
        last = a;
      }
      if (last != null) {
        Files.writeString(dir.resolve("last_reserved_ip.0"), last.toString());
      }
      return;
    }
    Attachment att = new Attachment(args[2], "eth0");
    try (IpamStore s = HostLocalStores.open(dataDir)) {
      switch (args[1]) {
        case "add" -> {
          AllocationOutcome o = s.allocate(POOL, AllocationRequest.of(att));
          if (!(o instanceof AllocationOutcome.Allocated)) {
            throw new IllegalStateException(o.toString());
          }
        }
        case "del" -> s.release(POOL, att);
        default -> s.find(POOL, att);
      }
    }
  }
}
