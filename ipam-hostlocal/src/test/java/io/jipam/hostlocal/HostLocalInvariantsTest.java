package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

/** The invariant checker catches what it claims to: a checker that cannot fail guards nothing. */
class HostLocalInvariantsTest {
  @TempDir Path dataDir;
  static final Pool POOL = HostLocalStoreFilesTest.pool("net", AllocationOrder.ROUND_ROBIN, "198.18.0.0/24");

  @Test
  void check_missingRecordStaleStampOrWrongIndex_fails() throws Exception {
    try (IpamStore store = HostLocalStores.open(dataDir)) {
      store.allocate(POOL, AllocationRequest.of(new Attachment("c1", "eth0")));
      store.allocate(POOL, AllocationRequest.of(new Attachment("c2", "eth0")));
    }
    HostLocalInvariants.check(dataDir);
    Path record = dataDir.resolve(".jipam/net/att/c1@eth0");
    byte[] saved = Files.readAllBytes(record);
    Files.delete(record);
    assertThrows(AssertionFailedError.class, () -> HostLocalInvariants.check(dataDir), "missing record");
    Files.write(record, saved);
    Files.writeString(dataDir.resolve("net/198.18.0.9"), "c2\r\neth0"); // behind jipam's back
    assertThrows(AssertionFailedError.class, () -> HostLocalInvariants.check(dataDir), "record or stamp");
  }
}
