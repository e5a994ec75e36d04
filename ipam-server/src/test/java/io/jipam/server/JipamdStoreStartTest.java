package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a real jipamd on the file store knows of its data dir and writes to it (issue 17, items 14
 * and 18): reads of pools nobody allocated from write nothing; after a restart {@code jipamctl
 * check} covers the pools allocated from before it, and with no pool known it says it checked
 * nothing and exits 1.
 */
@Timeout(180)
class JipamdStoreStartTest {
  @TempDir Path dir;

  String[] args(Path socket, Path data) {
    return new String[] {"--store", "file", "--data-dir", data.toString(), "--socket", socket.toString()};
  }

  static List<String> tree(Path data) throws Exception {
    try (Stream<Path> all = Files.walk(data)) {
      return all.map(p -> data.relativize(p).toString()).filter(s -> !s.isEmpty()).sorted().toList();
    }
  }

  @Test
  void reads_madeUpPools_writeNothingToTheDataDir() throws Exception {
    Path data = Files.createDirectory(dir.resolve("data"));
    Path socket = dir.resolve("r.sock");
    try (JipamdProcess j = JipamdProcess.start(dir, args(socket, data));
         RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      for (int i = 0; i < 50; i++) {
        Pool pool = TestPools.pool("made-up-" + i, AllocationOrder.ROUND_ROBIN, "198.18.21.0/24");
        assertEquals(List.of(), remote.find(pool, new Attachment("c1", "eth0")));
        assertEquals(List.of(0L), remote.usage(pool).allocated());
        assertEquals(List.of(), remote.list(pool));
      }
      CtlRun pools = CtlRun.of("--server", "unix:" + socket, "pools");
      assertEquals(0, pools.exit(), pools.err());
      assertEquals(List.of(), tree(data), "written by reads");
    }
  }

  @Test
  void check_afterRestart_coversThePoolsAllocatedBefore() throws Exception {
    Path data = dir.resolve("data");
    Path socket = dir.resolve("c.sock");
    Pool pool = TestPools.pool("kept", AllocationOrder.ROUND_ROBIN, "198.18.22.0/24", "fd00:22::/64");
    try (JipamdProcess j = JipamdProcess.start(dir, args(socket, data));
         RemoteStore remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket))) {
      CtlRun nothing = CtlRun.of("--server", "unix:" + socket, "check");
      assertEquals(1, nothing.exit(), nothing.out() + nothing.err());
      assertTrue(nothing.err().contains("checked nothing"), nothing.err());
      remote.allocate(pool, AllocationRequest.of(new Attachment("c1", "eth0")));
      remote.allocate(pool, AllocationRequest.of(new Attachment("c2", "eth0")));
      assertEquals(0, j.stop(), j.output());
    }
    try (JipamdProcess j = JipamdProcess.start(dir, args(socket, data))) {
      CtlRun check = CtlRun.of("--server", "unix:" + socket, "check");
      assertEquals(0, check.exit(), check.out() + check.err());
      assertTrue(check.out().contains("checked 1 pools, 4 allocations: clean"), check.out());
    }
  }
}
