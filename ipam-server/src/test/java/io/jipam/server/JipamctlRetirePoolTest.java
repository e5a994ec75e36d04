package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import io.jipam.hostlocal.HostLocalStores;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code jipamctl retire-pool} on a data dir: usage errors, a pool in use, an emptied one, one not kept. */
@Timeout(60)
class JipamctlRetirePoolTest {
  private static final Pool OLD = TestPools.pool("net+old", AllocationOrder.LOWEST_FREE, "198.18.2.0/28");

  @TempDir Path dir;

  @BeforeEach
  void write() throws Exception {
    Files.writeString(dir.resolve("net.conflist"), JipamctlClaimsTest.CONF);
    Files.createDirectories(dir.resolve("data"));
  }

  private CtlRun ctl(String... args) {
    String[] all = new String[args.length + 4];
    System.arraycopy(args, 0, all, 0, args.length);
    System.arraycopy(new String[] {"--data-dir", dir.resolve("data").toString(), "--conf",
        dir.resolve("net.conflist").toString()}, 0, all, args.length, 4);
    return CtlRun.of(all);
  }

  private List<String> entries() throws Exception {
    try (Stream<Path> s = Files.list(dir.resolve("data").resolve("net+old"))) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** Table: arguments -> the one-line usage error (exit 2), before any store is opened. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '#', value = {
      "retire-pool # Missing required parameter: 'POOL'",
      "retire-pool net/x # POOL: invalid pool name \"net/x\": a network name, or NETWORK+SUBPOOL",
      "retire-pool net+a+b # POOL: invalid pool name \"net+a+b\": a network name, or NETWORK+SUBPOOL",
  })
  void retirePool_badUsage_oneLineExit2(String args, String message) {
    CtlRun r = ctl(args.split(" "));
    assertEquals(2, r.exit(), r.toString());
    assertEquals("jipamctl: " + message + " (see jipamctl retire-pool --help)", r.err().strip(), r.toString());
  }

  @Test
  void retirePool_poolInUse_exit1NamingWhatHoldsItAndChangesNothing() throws Exception {
    try (IpamStore store = HostLocalStores.open(dir.resolve("data"))) {
      store.allocate(OLD, AllocationRequest.of(new Attachment("c1", "eth0")));
    }
    List<String> before = entries();
    CtlRun r = ctl("retire-pool", "net+old");
    assertEquals(1, r.exit(), r.toString());
    // one line: no note that --conf does not define the pool (retiring needs no definition)
    assertEquals("jipamctl: pool net+old still holds 1 allocation and 0 live claims; nothing was changed"
        + " (jipamctl list --pool net+old, jipamctl reservations)", r.err().strip(), r.toString());
    assertEquals(before, entries(), r.toString());
  }

  @Test
  void retirePool_emptiedPool_exit0ThenNotKeptExit1() {
    try (IpamStore store = HostLocalStores.open(dir.resolve("data"))) {
      store.allocate(OLD, AllocationRequest.of(new Attachment("c1", "eth0")));
      store.release(OLD, new Attachment("c1", "eth0"));
    }
    CtlRun r = ctl("retire-pool", "net+old");
    assertEquals(0, r.exit(), r.toString());
    assertEquals("pool net+old retired", r.out().strip(), r.toString());
    assertEquals("", r.err(), r.toString());
    CtlRun again = ctl("retire-pool", "net+old");
    assertEquals(1, again.exit(), again.toString());
    assertEquals("pool net+old is not kept by the store: nothing to retire", again.out().strip(), again.toString());
  }
}
