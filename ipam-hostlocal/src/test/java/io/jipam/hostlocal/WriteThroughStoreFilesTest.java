package io.jipam.hostlocal;

import io.jipam.core.store.IpamStore;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** On-disk cases of {@link HostLocalStoreFilesTest} that hold for jipamd's file store too (state in memory, files written through). */
class WriteThroughStoreFilesTest {
  @TempDir Path dataDir;

  @Test
  void allocate_sameAttachmentAfterTheRangesChanged_recordKeepsTheOldAddressDelReleasesBoth() throws Exception {
    try (IpamStore store = HostLocalStores.openWriteThrough(dataDir, FileSync.NONE)) {
      HostLocalStoreFilesTest.rangesChanged(store, dataDir);
    }
  }
}
