package io.jipam.hostlocal;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.Pool;
import io.jipam.core.store.spi.OtherPools;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;

/**
 * The pools of one data dir that share a network ({@code N} and its sub-pools' {@code N+x}, {@link
 * Pool#networkOf}), for an ADD that must not hand out what another of them holds ({@link
 * OtherPools}) and a reservation that must not be recorded over what another of them has ({@link
 * OtherPools#usesOf}), and the network's lock that both hold.
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>The network's lock.</b> An ADD or a reservation in a sub-pool holds, after its own
 *       pool's locks, those of the network's own pool ({@code <dataDir>/N/lock}, made when
 *       missing); one in {@code N} holds them as its own. So every ADD and reservation of one
 *       network that could race for an address runs alone, and what it reads of the other pools'
 *       files stays true until it has written its own. Locks are taken sub-pool first, network
 *       second, never the other way: no cycle of threads (the kernel, which sees processes, may
 *       still answer EDEADLK: {@link PoolLock} asks again). DELs, GC, unreserving, ending a hold
 *       and reads take no extra lock: each only frees an address or turns its allocation into a
 *       hold or cool-down, so one racing an ADD or a reservation elsewhere only makes that ADD
 *       pass over an address it could have had, or that reservation answer as of a moment before.
 *   <li><b>Which pools.</b> The data dir's entries, read again when its modification time or
 *       identity changes, or when the last listing was read within {@link #SETTLED_MILLIS} of that
 *       time (file times come from a coarse clock: a directory made in the same tick as the
 *       listing would leave the time as it was). A network's first
 *       sub-pool ADD may make its directory after another ADD read the list; that ADD held the
 *       network's lock, which the new pool's ADD waits for before it chooses: nothing is missed.
 *   <li><b>Kept pools.</b> The same listing answers which pools of a network the data dir keeps
 *       that a config no longer names ({@link #kept}), for DEL, GC, CHECK and a repeated ADD.
 *   <li><b>Cost.</b> A network with one pool (no {@code N+x} directory): one stat of the data dir
 *       per CNI call in a long-lived store (two per ADD: its kept pools, then its other pools under
 *       the lock), a listing or two in a one-shot process. Otherwise one file look-up per other
 *       pool for each address an ADD considers, and for a network with sub-pools only, a look into
 *       its own directory (the lock alone, or more) per call.
 * </ul>
 *
 * <p>Thread-safe: the cached listing is replaced whole.
 */
final class NetworkPoolDirs {
  private final Path dataDir;
  /** The clock of the store the pools are read for: its claims end by it. */
  private final java.time.Clock clock;
  private volatile Listing last;

  /**
   * A listing of the data dir and its stat when read; {@code trusted}: read at least {@link
   * #SETTLED_MILLIS} after the directory's modification time, so a change after it moves that time.
   */
  private record Listing(FileTime modified, Object identity, boolean trusted, List<String> names) {}

  /**
   * How long after a directory's modification time a listing of it is trusted while its stat does
   * not change: more than a tick of the coarse clock that file times come from (1 to 10 ms), so a
   * directory made after the listing gives the data dir a later time.
   */
  static final long SETTLED_MILLIS = 50;

  /** @param clock the store's, which its claims start and end by; null for the system clock */
  NetworkPoolDirs(Path dataDir, java.time.Clock clock) {
    this.dataDir = dataDir;
    this.clock = clock;
  }

  /**
   * What the other pools of {@code pool}'s network hold, read from their address files at each
   * question. Call it holding the network's lock.
   */
  OtherPools others(Pool pool) throws IOException {
    List<PoolDir> others = null;
    for (String name : names()) {
      if (pool.sharesNetworkWith(name) && Pool.isName(name)
          && Files.isDirectory(dataDir.resolve(name), LinkOption.NOFOLLOW_LINKS)) {
        if (others == null) {
          others = new ArrayList<>(2);
        }
        others.add(new PoolDir(dataDir, name, null, clock));
      }
    }
    return others == null ? OtherPools.NONE : new AddressFiles(others);
  }

  /**
   * The pools of {@code network} with a directory here that {@code named} does not name, each with
   * {@code like}'s ranges and order ({@link io.jipam.core.store.capability.KeptPools}); a network's
   * own directory that holds nothing but the lock its sub-pools' ADDs take is left out.
   */
  List<Pool> kept(String network, java.util.Set<String> named, Pool like) {
    try {
      return keptDirs(network, named, like);
    } catch (IOException | java.nio.file.DirectoryIteratorException e) {
      throw PoolDir.ioFailure("listing the pools of network " + network + " in", dataDir, e);
    }
  }

  private List<Pool> keptDirs(String network, java.util.Set<String> named, Pool like) throws IOException {
    List<Pool> out = null;
    for (String name : names()) {
      if (!named.contains(name) && Pool.isName(name) && Pool.networkOf(name).equals(network)
          && Files.isDirectory(dataDir.resolve(name), LinkOption.NOFOLLOW_LINKS) && !onlyLock(dataDir.resolve(name))) {
        if (out == null) {
          out = new ArrayList<>(2);
        }
        out.add(new Pool(name, like.rangeSets(), like.order()));
      }
    }
    return out == null ? List.of() : out;
  }

  /** Whether the directory holds nothing but the lock file. */
  static boolean onlyLock(Path dir) throws IOException {
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      for (Path p : entries) {
        if (!p.getFileName().toString().equals(PoolDir.LOCK)) {
          return false;
        }
      }
      return true;
    }
  }

  /** The directory whose lock is the network's lock for an ADD in {@code pool}; null when {@code pool} is the network's own. */
  static String networkLockOwner(Pool pool) {
    String network = Pool.networkOf(pool.name());
    return network.equals(pool.name()) ? null : network;
  }

  /** The data dir's entries but jipam's own; none while the data dir does not exist yet (a first call). */
  private List<String> names() throws IOException {
    BasicFileAttributes stat;
    try {
      stat = Files.readAttributes(dataDir, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (java.nio.file.NoSuchFileException e) {
      return List.of();
    }
    Listing l = last;
    if (l != null && l.trusted && l.modified.equals(stat.lastModifiedTime())
        && java.util.Objects.equals(l.identity, stat.fileKey())) {
      return l.names;
    }
    boolean trusted = System.currentTimeMillis() - stat.lastModifiedTime().toMillis() >= SETTLED_MILLIS;
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dataDir)) {
      for (Path p : entries) {
        String n = p.getFileName().toString();
        if (n.charAt(0) != '.') {
          names.add(n);
        }
      }
    } catch (java.nio.file.NoSuchFileException e) {
      return List.of(); // removed since the stat
    }
    // the stat read before the listing: a change during it makes the next call list again
    last = new Listing(stat.lastModifiedTime(), stat.fileKey(), trusted, List.copyOf(names));
    return names;
  }

  /** The other pools' address files: who holds an address there, asked per address. */
  private static final class AddressFiles implements OtherPools {
    private final List<PoolDir> others;

    AddressFiles(List<PoolDir> others) {
      this.others = others;
    }

    @Override
    public Held holderOf(IpAddress address) {
      for (PoolDir d : others) {
        Attachment holder;
        try {
          holder = d.readHolder(address);
        } catch (IOException e) {
          throw PoolDir.ioFailure("reading an address file of", d.dir, e);
        }
        if (holder == AddressFileText.CLAIMED && expiredClaim(d, address)) {
          continue; // its marker stays until that pool's next change; the claim ended
        }
        if (holder != null) {
          boolean attachment = holder != AddressFileText.CLAIMED && holder != AddressFileText.UNREADABLE
              && holder != AddressFileText.NOT_A_FILE;
          return new Held(d.network, attachment ? holder : null);
        }
      }
      return null;
    }

    /**
     * Whether the pool's claims file has the address's claim and it has expired (a marker whose claim
     * the file does not have is taken as live: the file is written before its markers go).
     */
    private static boolean expiredClaim(PoolDir d, IpAddress address) {
      java.time.Instant now = d.clock == null ? java.time.Instant.now() : d.clock.instant();
      try {
        for (Claim c : ClaimFiles.read(d)) {
          if (c.address().equals(address)) {
            return c.expiredAt(now);
          }
        }
      } catch (IOException e) {
        throw PoolDir.ioFailure("reading the claims of", d.dir, e);
      }
      return false;
    }

    /**
     * Per other pool with a file for the address: its holder (and pod, from the holder's record)
     * unless the file is a claim marker, and its claim from the pool's claims file (a claimed
     * address always has a file: the marker, or its holder's). Files replaced whole by rename, so
     * each reads as before or after a change of that pool.
     */
    @Override
    public List<Use> usesOf(IpAddress address) {
      List<Use> out = new ArrayList<>(1);
      for (PoolDir d : others) {
        try {
          Attachment holder = d.readHolder(address);
          if (holder == null) {
            continue;
          }
          Attachment attachment = holder == AddressFileText.CLAIMED ? null : holder;
          AttachmentRecord record = attachment == null ? null : AttachmentRecord.read(d, attachment);
          Claim claim = null;
          for (Claim c : ClaimFiles.read(d)) {
            if (c.address().equals(address)) {
              claim = c;
            }
          }
          out.add(new Use(d.network, attachment, record == null ? null : record.podOf(address), claim));
        } catch (IOException e) {
          throw PoolDir.ioFailure("reading the files of an address of", d.dir, e);
        }
      }
      return out;
    }

    @Override
    public String toString() {
      return "address files of " + others.size() + " other pools";
    }
  }
}
