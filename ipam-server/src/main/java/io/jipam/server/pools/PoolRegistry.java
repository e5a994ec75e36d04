package io.jipam.server.pools;

import io.jipam.api.WireMapping;
import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.jipam.core.cni.NetworkPools;
import io.jipam.core.cni.SubPool;
import io.jipam.core.cni.SubPoolIndex;
import io.jipam.core.store.Pool;
import io.jipam.api.v1.ListPoolsResponse;
import io.jipam.api.v1.PoolInfo;
import io.jipam.server.metrics.CallLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The pool definitions this jipamd serves: the first allocation the store takes defines a pool
 * here; a later request that names it with other ranges or another order is refused ({@code
 * INVALID_CONFIG}; its address policy is not part of the definition: each call applies its own), so two nodes with different conflists for one network cannot both allocate
 * from it. The etcd store also checks against the definition stored in etcd, which outlives
 * jipamd; for the file and memory stores the definition lives as long as this process.
 *
 * <p>Only a change defines ({@link #admit}): the definition is held while the change runs, so a
 * concurrent one with another definition is refused, and kept only when the store took the
 * change ({@link Admission#confirm}); a change the store refused (etcd holding another
 * definition, or refusing one too large) leaves nothing. Reads, releases and GC are only
 * {@linkplain #check checked} against the definitions kept: a caller that only reads cannot pin a
 * network's definition, nor fill the registry's bounds.
 *
 * <p>A registry {@linkplain #persistent kept in a file} (the file store's: the data dir holds
 * addresses, not ranges) writes a pool's definition there when it first allocates from it ({@link
 * #allocatedFrom}; reads never write), and at start knows the pools the file names, so that {@link
 * #all} (ListPools, {@code jipamctl check}) covers them before any call names them. A definition
 * read from the file is provisional: the first request that names the pool defines it again, as
 * before a restart, and the file follows at its next allocation. An unreadable file is named in
 * the log and ignored (requests define the pools again).
 *
 * <p>It also knows the sub-pools ({@code ipam.subPools}) of the networks CNI calls on jipamd's
 * socket named, with their selectors ({@link #defined}, {@link #subPool}), for ListPools and the
 * metrics, and those Allocate requests say their pools are ({@link #namedBy}: a node jipamd's
 * remote store passes its CNI configs' on). Other gRPC callers send store pools only, so a sub-pool
 * only they name is shown as a plain pool. A file registry keeps a sub-pool's selectors beside its
 * pool's definition.
 *
 * <p>Thread-safe. Bounded ({@link #MAX_POOLS}, {@link #MAX_WEIGHT}): any caller that allocates
 * defines the pools it names.
 */
public final class PoolRegistry {
  /** Bounds of {@link #decoded}: definitions are few; past either the cache starts over. */
  private static final int DECODED_MAX = 1024;
  private static final long DECODED_MAX_BYTES = 4L << 20;
  private final java.util.concurrent.atomic.AtomicLong decodedBytes = new java.util.concurrent.atomic.AtomicLong();

  /** Definitions held by changes in flight, and those a change confirmed, by name. */
  private final ConcurrentHashMap<String, Entry> pools = new ConcurrentHashMap<>();

  /** A definition as registered: held while {@link #pending} admissions run, kept once one confirmed it. */
  private static final class Entry {
    /** The definition; its policy is the last admitted change's (a policy is not part of it). */
    volatile Pool pool;
    final long weight;
    /** Admissions not ended yet; under the registry's lock. */
    int pending;
    volatile boolean confirmed;

    Entry(Pool pool, long weight) {
      this.pool = pool;
      this.weight = weight;
    }
  }
  /**
   * Pool messages already decoded and checked: every request carries its pool's definition, and
   * decoding it (CIDRs, ranges) costs more than hashing the message.
   */
  private final ConcurrentHashMap<io.jipam.api.v1.Pool, Pool> decoded = new ConcurrentHashMap<>();
  /** Definitions read from {@link #file} at start and not yet named by a request. */
  private final ConcurrentHashMap<String, Pool> provisional = new ConcurrentHashMap<>();
  /**
   * The sub-pools of the networks CNI calls named ({@link #defined}), and those Allocate requests
   * said their pools are ({@link #namedBy}), by store pool name: the selectors of the last config
   * (they may change without the pool's definition changing); kept in {@link #file} beside their
   * pools' definitions.
   */
  private final SubPoolIndex subPools = new SubPoolIndex();
  /** Where definitions are kept, or null. */
  private final Path file;
  /** What {@link #file} holds: the pools allocated from, with the definition of the last allocation. */
  private final Map<String, Pool> persisted = new TreeMap<>();
  /** And the sub-pools among them, as of their last allocation; under {@link #persisted}'s lock. */
  private final Map<String, SubPool> persistedSubPools = new TreeMap<>();

  /** Definitions for this process only. */
  public PoolRegistry() {
    this.file = null;
  }

  private PoolRegistry(Path file) {
    this.file = file;
  }

  /** A registry kept in {@code file}: loads its definitions now (a missing file: none). */
  public static PoolRegistry persistent(Path file, CallLog log) {
    PoolRegistry r = new PoolRegistry(file);
    if (Files.exists(file)) {
      try {
        for (PoolInfo info : ListPoolsResponse.parseFrom(Files.readAllBytes(file)).getPoolsList()) {
          Pool pool = WireMapping.pool(info.getPool());
          r.provisional.put(pool.name(), pool);
          r.persisted.put(pool.name(), pool);
          SubPool sub = WireMapping.subPool(info);
          if (sub != null) {
            r.subPools.put(sub);
            r.persistedSubPools.put(pool.name(), sub);
          }
        }
      } catch (IOException | RuntimeException e) {
        r.provisional.clear();
        r.persisted.clear();
        r.subPools.clear();
        r.persistedSubPools.clear();
        log.info("cannot read the pool definitions in " + file + " (" + IoMessages.describe(e)
            + "): each pool is known again from the first call naming it");
      }
    }
    return r;
  }

  /** Decodes the request's pool message ({@link WireMapping#pool}) and {@link #check}s it; the decoding cached. */
  public Pool check(io.jipam.api.v1.Pool message) {
    return check(decode(message));
  }

  /** Decodes the request's pool message and {@link #admit}s it. */
  public Admission admit(io.jipam.api.v1.Pool message) {
    return admit(decode(message));
  }

  /**
   * Whether a definition this large is cheap to decode on an event loop: one the registry keeps
   * decoded (256 KiB at most, a sixteenth of the bytes it keeps), which is decoded once. A
   * larger one is decoded at every call (0.4 to 1.4 s for 3.9 MB of ranges): its calls belong on
   * a worker, or it stalls every other caller's calls on that loop.
   */
  public static boolean decodesQuickly(io.jipam.api.v1.Pool message) {
    return message.getSerializedSize() <= DECODED_MAX_BYTES / 16;
  }

  private Pool decode(io.jipam.api.v1.Pool message) {
    Pool known = decoded.get(message);
    if (known != null) {
      return known;
    }
    Pool pool = WireMapping.pool(message);
    int size = message.getSerializedSize();
    if (decodesQuickly(message)) { // a huge definition is decoded each time rather than held
      if (decoded.size() >= DECODED_MAX || decodedBytes.addAndGet(size) > DECODED_MAX_BYTES) {
        decoded.clear();
        decodedBytes.set(size);
      }
      decoded.put(message, pool);
    }
    return pool;
  }

  /**
   * The most pools one jipamd serves, and the most ranges and exclude entries all their definitions
   * hold ({@link #weight}): every caller that allocates (a node too) defines the pools it names, and a definition
   * can be megabytes, so an unbounded registry let callers fill the heap. Real networks are a few
   * ranges each: these are far above any conflist set, and far below the heap.
   */
  static final int MAX_POOLS = 10_000;
  static final long MAX_WEIGHT = 200_000;

  /** Under the registry's lock: the registered definitions' total {@link #weight}, held ones included. */
  private long weight;

  /**
   * Holds the pool's definition for a change about to run: registers it when new (within the
   * bounds), or checks it against the one registered. End the admission after the change:
   * {@link Admission#confirm} when the store took it, then {@link Admission#close} in every case.
   *
   * @throws IpamException INVALID_CONFIG when another definition of its name is registered or
   *     held, or when it is new and the registry is full ({@link #MAX_POOLS}, {@link #MAX_WEIGHT})
   */
  public synchronized Admission admit(Pool pool) {
    Entry e = pools.get(pool.name());
    if (e == null) {
      long w = weight(pool);
      if (pools.size() >= MAX_POOLS || weight + w > MAX_WEIGHT) {
        throw IpamException.invalidConfig("jipamd serves %d pools already, with %d ranges and exclude entries in all;"
            + " pool %s (%d more) would pass its bound of %d pools, %d ranges and exclude entries",
            pools.size(), weight, Printable.quote(pool.name()), w, MAX_POOLS, MAX_WEIGHT);
      }
      weight += w;
      e = new Entry(pool, w);
      pools.put(pool.name(), e);
    } else if (e.pool != pool && !e.pool.equals(pool)) {
      if (!sameDefinition(e.pool, pool)) {
        throw conflict(e.pool, pool);
      }
      e.pool = pool; // the policy changed with the network's config: the last change's is shown
    }
    e.pending++;
    return new Admission(e, pool);
  }

  /**
   * Whether two pools of one name are one definition: the same range sets and order. The address
   * policy (sticky, reuse delay) is not part of it: each call applies the one its config names, as
   * the plugin does on its own, so an operator may change it in the conflist while pods run (a DEL
   * with the config the runtime cached at ADD then still finds and releases its attachment).
   */
  static boolean sameDefinition(Pool a, Pool b) {
    return a.name().equals(b.name()) && a.rangeSets().equals(b.rangeSets()) && a.order() == b.order();
  }

  /**
   * A change's hold on its pool's definition ({@link #admit}); thread-safe (an asynchronous change
   * confirms on one thread and closes on another), each ends once.
   */
  public final class Admission implements AutoCloseable {
    private final Entry entry;
    private final Pool pool;
    private boolean ended;

    private Admission(Entry entry, Pool pool) {
      this.entry = entry;
      this.pool = pool;
    }

    /** The definition admitted, with the policy of the request admitted. */
    public Pool pool() {
      return pool;
    }

    /** The store took the change: the definition is kept from now on. */
    public void confirm() {
      synchronized (PoolRegistry.this) {
        if (ended) {
          return;
        }
        ended = true;
        entry.confirmed = true;
        entry.pending--;
        provisional.remove(entry.pool.name()); // the request's definition holds from now on
      }
    }

    /** Ends the admission; unless confirmed, a definition no other change holds or confirmed is dropped. */
    @Override
    public void close() {
      synchronized (PoolRegistry.this) {
        if (ended) {
          return;
        }
        ended = true;
        entry.pending--;
        if (!entry.confirmed && entry.pending == 0 && pools.get(entry.pool.name()) == entry) {
          pools.remove(entry.pool.name());
          weight -= entry.weight;
        }
      }
    }
  }

  /** A definition's size as held: its ranges and their exclude entries. */
  static long weight(Pool pool) {
    long w = 0;
    for (io.jipam.core.net.RangeSet set : pool.rangeSets()) {
      for (io.jipam.core.net.IpRange range : set.ranges()) {
        w += 1 + range.exclude().size();
      }
    }
    return w;
  }

  /**
   * Checks the pool against the definition kept for its name, registering nothing; returns it.
   *
   * @throws IpamException INVALID_CONFIG when a change confirmed another definition of its name
   */
  public Pool check(Pool pool) {
    Entry e = pools.get(pool.name());
    if (e != null && e.confirmed && e.pool != pool && !sameDefinition(e.pool, pool)) {
      throw conflict(e.pool, pool);
    }
    return pool;
  }

  private static IpamException conflict(Pool known, Pool pool) {
    return IpamException.invalidConfig("network \"%s\" is served with ranges %s (order %s); this request"
        + " names ranges %s (order %s). A pool's ranges and order are fixed while jipamd runs: use another"
        + " network name, or restart jipamd once the pool is no longer used",
        pool.name(), known.rangeSets(), known.order().configName(), pool.rangeSets(),
        pool.order().configName());
  }

  /**
   * Records the sub-pools of a network a CNI call named (its pools {@link #check}ed already): each
   * one's selectors replace those known before, and a sub-pool the network no longer has is
   * forgotten. Writes nothing: a registry kept in a file writes a sub-pool's selectors with its
   * pool's definition at the next allocation from it ({@link #allocatedFrom}).
   */
  public void defined(NetworkPools network) {
    subPools.defined(network);
  }

  /**
   * Records the sub-pool an Allocate request said its pool is (a node jipamd passing on its CNI
   * config's), as {@link #defined} does for a CNI call's; written to the file likewise.
   */
  public void namedBy(SubPool sub) {
    subPools.put(sub);
  }

  /** The sub-pool whose store pool is {@code poolName}, as the last CNI call naming its network defined it; or null. */
  public SubPool subPool(String poolName) {
    return subPools.get(poolName);
  }

  /** The pools allocated from since start, and those read from the file that no allocation has named yet. */
  public List<Pool> all() {
    Map<String, Pool> all = new TreeMap<>(provisional);
    for (Entry e : pools.values()) {
      if (e.confirmed) {
        all.put(e.pool.name(), e.pool);
      }
    }
    return new ArrayList<>(all.values());
  }

  /**
   * After an allocation from {@code pool} (whatever its outcome): a registry kept in a file
   * writes the definition there if the file does not hold it yet. Rare: once per pool and
   * definition.
   */
  public void allocatedFrom(Pool pool) {
    if (file == null) {
      return;
    }
    synchronized (persisted) {
      SubPool sub = subPools.get(pool.name());
      if (pool.equals(persisted.get(pool.name())) && java.util.Objects.equals(sub, persistedSubPools.get(pool.name()))) {
        return;
      }
      persisted.put(pool.name(), pool);
      if (sub == null) {
        persistedSubPools.remove(pool.name());
      } else {
        persistedSubPools.put(pool.name(), sub);
      }
      save();
    }
  }

  /**
   * After the store retired {@code poolName} ({@link io.jipam.core.store.capability.RetirePools}):
   * its definition is no longer kept (nor listed by {@link #all}, nor in the file), unless a change
   * naming it is in flight (it defines the pool again). The next request naming it defines it anew.
   */
  public void retired(String poolName) {
    synchronized (this) {
      Entry e = pools.get(poolName);
      if (e != null && e.pending == 0) {
        pools.remove(poolName);
        weight -= e.weight;
      }
      provisional.remove(poolName);
    }
    if (file != null) {
      synchronized (persisted) {
        if (persisted.remove(poolName) != null | persistedSubPools.remove(poolName) != null) {
          save();
        }
      }
    }
  }

  /** Writes {@link #persisted} to the file (temp file, then rename); under its lock. */
  private void save() {
    ListPoolsResponse.Builder out = ListPoolsResponse.newBuilder();
    for (Pool pool : persisted.values()) {
      PoolInfo.Builder info = PoolInfo.newBuilder().setPool(WireMapping.pool(pool));
      SubPool sub = persistedSubPools.get(pool.name());
      if (sub != null) {
        info.setSubPool(WireMapping.subPool(sub));
      }
      out.addPools(info);
    }
    Path temp = file.resolveSibling(file.getFileName() + ".tmp");
    try {
      Files.createDirectories(file.getParent(), PosixFilePermissions.asFileAttribute(
          PosixFilePermissions.fromString("rwx------")));
      Files.write(temp, out.build().toByteArray());
      Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      // serving goes on: the file only spares a check after a restart the wait for a first call
      System.err.println("jipamd: cannot write the pool definitions to " + file + ": " + IoMessages.describe(e));
    }
  }
}
