package io.jipam.hostlocal;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Claim;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.RetireOutcome;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Retiring an emptied pool of a data dir ({@link io.jipam.core.store.capability.RetirePools}) for
 * both file stores. Under the pool's locks and, for a sub-pool, the network's (taken in the order
 * every ADD takes them: the sub-pool's first), it counts the address files that hold an attachment
 * and the live claims of the claims file; with none, it removes the pool's files but its lock file
 * (the cursors, claim markers, jipam's temp files, and jipam's records directory {@code
 * .jipam/<pool>/}). The lock file stays: a process waiting for it (a plugin process blocked in
 * {@code fcntl}) then locks the file every later call locks, never a deleted one; and a directory
 * holding only its lock file is no kept pool ({@link NetworkPoolDirs#kept}). An ADD waiting for the
 * lock then finds an empty pool and allocates as in a new one; an ADD that took the lock first
 * makes the retire count its file and refuse. Stateless; thread-safe as the locks make it.
 */
final class PoolRetire {
  private PoolRetire() {}

  /**
   * Retires pool {@code name} of {@code dataDir}; {@code held}: the lock files a long-lived store
   * keeps open (null: opened and closed here).
   */
  static RetireOutcome retire(Path dataDir, String name, PoolDir.Forcer forcer, java.time.Clock clock,
      HeldLockFiles held) {
    Pool.requireName(name);
    PoolDir d = new PoolDir(dataDir, name, forcer, clock);
    try {
      if (!kept(d.dir)) {
        return new RetireOutcome.NotFound(name);
      }
      String network = Pool.networkOf(name);
      try (PoolLock own = PoolLock.acquire(d, name, true, held);
          PoolLock net = network.equals(name) ? null
              : PoolLock.acquire(new PoolDir(dataDir, network, forcer, clock), name, true, held)) {
        if (!kept(d.dir)) {
          return new RetireOutcome.NotFound(name); // retired meanwhile
        }
        return retireLocked(d, name, clock == null ? Instant.now() : clock.instant());
      }
    } catch (IOException | java.nio.file.DirectoryIteratorException e) {
      throw PoolDir.ioFailure("retiring", d.dir, e);
    }
  }

  private static RetireOutcome retireLocked(PoolDir d, String name, Instant now) throws IOException {
    List<Path> remove = new ArrayList<>();
    int allocations = 0;
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(d.dir)) {
      for (Path p : entries) {
        String n = p.getFileName().toString();
        if (n.equals(PoolDir.LOCK)) {
          continue;
        }
        if (n.startsWith(PoolDir.CURSOR_PREFIX) || n.startsWith(PoolDir.TEMP_PREFIX)) {
          remove.add(p);
          continue;
        }
        IpAddress address = IpAddress.tryParse(n);
        if (address == null || !address.toString().equals(n)) {
          throw new IpamException(ErrorCode.IO_FAILURE, "cannot retire pool \"" + name + "\": "
              + Printable.escape(p.toString()) + " is no file jipam or host-local writes; nothing was changed");
        }
        if (!AddressFileText.CLAIMED.equals(d.readHolder(address))) {
          allocations++;
        }
        remove.add(p);
      }
    }
    int claims = 0;
    for (Claim c : ClaimFiles.read(d)) {
      claims += c.expiredAt(now) ? 0 : 1;
    }
    if (allocations > 0 || claims > 0) {
      return new RetireOutcome.InUse(name, allocations, claims);
    }
    for (Path p : remove) {
      Files.deleteIfExists(p);
    }
    deleteTree(d.jipamDir);
    return new RetireOutcome.Retired(name);
  }

  /** Whether the pool's directory holds more than its lock file (what {@link NetworkPoolDirs#kept} keeps). */
  private static boolean kept(Path dir) throws IOException {
    return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && !NetworkPoolDirs.onlyLock(dir);
  }

  /** Deletes a directory and what it holds, following no link; nothing when absent. */
  private static void deleteTree(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        try {
          Files.delete(p);
        } catch (NoSuchFileException gone) {
          // removed meanwhile
        }
      }
    }
  }
}
