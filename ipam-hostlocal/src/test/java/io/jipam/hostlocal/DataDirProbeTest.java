package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.capability.Probe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both file stores answer the health probe (the plugin's STATUS, jipamd's health check) for their
 * data dir: a data dir that is a file, or lies under one, fails it naming the path (STATUS said all
 * was well while every ADD failed with code 5); one not created yet under a writable directory
 * passes (the first ADD creates it).
 */
class DataDirProbeTest {
  @TempDir Path root;

  static final List<Function<Path, IpamStore>> STORES = List.of(HostLocalStores::open,
      dir -> HostLocalStores.openWriteThrough(dir, FileSync.NONE));

  @Test
  void ping_dataDirUsableOrNotYetMade_passes() throws Exception {
    Files.createDirectories(root.resolve("made"));
    for (Function<Path, IpamStore> open : STORES) {
      for (Path dir : List.of(root.resolve("made"), root.resolve("not/yet/made"))) {
        try (IpamStore store = open.apply(dir)) {
          Probe probe = store.capability(Probe.class).orElseThrow();
          assertDoesNotThrow(probe::ping, dir.toString());
        }
      }
    }
  }

  @Test
  void ping_dataDirAFileOrUnderOne_failsNamingIt() throws Exception {
    Path file = Files.writeString(root.resolve("hostname"), "x\n");
    for (Function<Path, IpamStore> open : STORES) {
      for (Path dir : List.of(file, file.resolve("sub"))) {
        IpamStore store;
        try {
          store = open.apply(dir);
        } catch (IpamException refusedAtOpen) {
          continue; // jipamd's store checks its data dir when it opens
        }
        try (store) {
          Probe probe = store.capability(Probe.class).orElseThrow();
          IpamException e = assertThrows(IpamException.class, probe::ping, dir.toString());
          assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code());
          assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("is not a directory"), e.getMessage());
        }
      }
    }
  }
}
