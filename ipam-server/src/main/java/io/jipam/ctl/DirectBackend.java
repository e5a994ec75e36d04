package io.jipam.ctl;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.capability.Inspection;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.NodeReclaim;
import io.jipam.core.store.capability.PoolDefinitions;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import io.jipam.core.store.capability.RetainPreview;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.etcd.EtcdStores;
import io.jipam.hostlocal.FileSync;
import io.jipam.hostlocal.HostLocalStores;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A store jipamctl opens itself, with no jipamd: a file data dir (host-local's layout, written by
 * host-local or jipam) or an etcd store. Reads and reclaims ask the store for its capabilities
 * ({@link Inspection}, {@link ListPages}, {@link NodeReclaim}, ...) and use core's fallbacks where
 * it has none ({@link PoolStatus#read}, {@link ListPages#of}, {@link RetainPreview#of}), as jipamd
 * does when it serves them. Changes are the store's own atomic calls, so they are safe beside
 * plugins and jipamds working on the same store.
 *
 * <p>Pools: a data dir does not hold ranges, so its pools are those the {@code --conf} files
 * define (a network directory with no config is named on stderr and left out); an etcd store's are
 * those defined in etcd, with a {@code --conf} definition of the same name taking the place of the
 * stored one (its order; ranges that differ are refused by the store at the first call).
 */
final class DirectBackend implements Backend {
  /** Allocations per page when listing: jipamd's largest List page. */
  static final int PAGE_SIZE = 5000;

  private final IpamStore store;
  private final String description;
  private final Map<String, Pool> confPools;
  private final List<io.jipam.core.cni.SubPool> confSubPools;

  private DirectBackend(IpamStore store, String description, ConfPools.Definitions conf) {
    this.store = store;
    this.description = description;
    this.confPools = conf.pools();
    this.confSubPools = conf.subPools();
  }

  /** A data dir: must exist (jipamctl does not create one by reading). */
  static DirectBackend dataDir(Path dir, ConfPools.Definitions conf, PrintWriter err) {
    Map<String, Pool> confPools = conf.pools();
    String shown = Printable.quote(dir.toString());
    if (!Files.isDirectory(dir)) {
      throw IpamException.invalidConfig("data dir %s does not exist or is not a directory", shown);
    }
    try (var entries = Files.list(dir)) {
      // a directory's name is anyone's bytes: escaped and shortened, as every value jipamctl echoes
      entries.filter(Files::isDirectory).map(p -> p.getFileName().toString())
          .filter(n -> !n.startsWith(".") && !confPools.containsKey(n) && !onlyNetworkLock(dir.resolve(n))).sorted()
          .forEach(n -> err.println("jipamctl: network " + Printable.quote(n) + " in " + shown + " has no definition:"
              + " give its config with --conf to include it"));
    } catch (IOException | java.io.UncheckedIOException e) {
      throw new IpamException(ErrorCode.IO_FAILURE, "cannot list data dir " + shown + ": "
          + FileInput.reason(e instanceof java.io.UncheckedIOException u ? u.getCause() : e), e);
    }
    return new DirectBackend(HostLocalStores.open(dir, FileSync.FSYNC), "data dir " + shown, conf);
  }

  /**
   * Whether a network's directory holds nothing but its lock file: the directory an ADD in one of
   * its sub-pools makes for the network's lock when the network has no ranges of its own.
   */
  private static boolean onlyNetworkLock(Path network) {
    try (var entries = Files.list(network)) {
      return entries.map(p -> p.getFileName().toString()).toList().equals(List.of("lock"));
    } catch (IOException | java.io.UncheckedIOException e) {
      return false;
    }
  }

  /** The pool's live claims (holds, reservations, cool-downs); none on a store without them. */
  List<io.jipam.core.store.Claim> claims(Pool pool) {
    return store.capability(io.jipam.core.store.capability.Claims.class).map(c -> c.claims(pool)).orElse(List.of());
  }

  /** The node this store acts for (the etcd store's); null for a store that records no nodes. */
  String node() {
    return store.capability(io.jipam.core.store.capability.NodeView.class)
        .map(io.jipam.core.store.capability.NodeView::node).orElse(null);
  }

  /** An etcd store from a JSON file of the etcd store's keys (as jipamd's --etcd-config); node overrides its node. */
  static DirectBackend etcd(Path configFile, String node, ConfPools.Definitions conf) {
    EtcdStoreConfig config = EtcdStoreConfig.fromJson(etcdJson(configFile));
    if (node != null) {
      config = config.withNode(node);
    }
    return new DirectBackend(EtcdStores.open(config), "etcd at " + String.join(",", config.endpoints())
        + " (prefix " + config.prefix() + ", node " + config.node() + ")", conf);
  }

  /**
   * The most an etcd config file may hold: its keys are names, endpoints and file paths, a few
   * hundred bytes; the bound of a network config ({@link io.jipam.core.cni.NetworkConfig#MAX_BYTES},
   * 4 MiB) leaves room for anything.
   */
  static final int ETCD_CONFIG_MAX_BYTES = io.jipam.core.cni.NetworkConfig.MAX_BYTES;

  /** The etcd config file's keys; a file that is not a regular file or is larger than {@link #ETCD_CONFIG_MAX_BYTES} is not read. */
  static Map<String, Object> etcdJson(Path file) {
    String shown = Printable.quote(file.toString());
    byte[] bytes;
    try {
      bytes = FileInput.read(file, ETCD_CONFIG_MAX_BYTES);
    } catch (FileInput.Refused e) {
      throw new IpamException(ErrorCode.INVALID_CONFIG, "cannot read etcd config " + shown + ": " + e.getMessage(), e);
    }
    try {
      return new JsonObject(new String(bytes, java.nio.charset.StandardCharsets.UTF_8)).getMap();
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.INVALID_CONFIG, "etcd config " + shown + " is not a JSON object: "
          + Printable.line(String.valueOf(e.getMessage())), e);
    }
  }

  @Override
  public String describe() {
    return description;
  }

  @Override
  public List<Pool> pools() {
    Map<String, Pool> all = new TreeMap<>();
    for (Pool p : definedPools()) {
      all.put(p.name(), p);
    }
    all.putAll(confPools);
    return new ArrayList<>(all.values());
  }

  /** The sub-pools the --conf files define: a store keeps no selectors. */
  @Override
  public List<io.jipam.core.cni.SubPool> subPools() {
    return confSubPools;
  }

  /** The pools the store itself defines (etcd), without the --conf ones. */
  List<Pool> definedPools() {
    return store.capability(PoolDefinitions.class).map(PoolDefinitions::definedPools).orElse(List.of());
  }

  @Override
  public PoolStatus status(Pool pool) {
    return PoolStatus.read(store, pool);
  }

  @Override
  public List<ListPages.Listed> list(Pool pool, ListPages.Filter filter) {
    ListPages pages = ListPages.of(store);
    List<ListPages.Listed> out = new ArrayList<>();
    IpAddress after = null;
    do {
      ListPages.Page page = pages.page(pool, filter, after, PAGE_SIZE);
      out.addAll(page.allocations());
      after = page.next();
    } while (after != null);
    return out;
  }

  @Override
  public List<Allocation> find(Pool pool, Attachment attachment) {
    return store.find(pool, attachment);
  }

  @Override
  public List<Allocation> release(Pool pool, Attachment attachment) {
    return store.release(pool, attachment);
  }

  @Override
  public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
    return store.retainOnly(pool, valid);
  }

  @Override
  public List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid) {
    return RetainPreview.of(store).retainOnlyPreview(pool, valid);
  }

  @Override
  public List<String> audit(Pool pool) {
    return store.capability(Inspection.class).map(i -> i.audit(pool)).orElse(List.of());
  }

  @Override
  public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
    return store.allocate(pool, request);
  }

  @Override
  public ReclaimReport reclaimNode(String node, ReclaimPolicy policy) {
    // the store keeps no address rules: the --conf pools' make a sticky pod's address a hold
    return reclaim("reclaim-node").reclaimNode(node, policy.withRules(confPools.values()));
  }

  @Override
  public ReclaimPreview previewReclaim(String node, ReclaimPolicy policy) {
    return reclaim("reclaim-node").previewReclaim(node, policy);
  }

  @Override
  public boolean liftFence(String node) {
    return reclaim("lift-fence").liftFence(node);
  }

  @Override
  public io.jipam.core.store.capability.RetireOutcome retirePool(String pool) {
    return store.capability(io.jipam.core.store.capability.RetirePools.class)
        .orElseThrow(() -> new IpamException(ErrorCode.UNSUPPORTED_FIELD, "retire-pool: this store ("
            + store.getClass().getSimpleName() + ") cannot retire a pool"))
        .retire(pool);
  }

  /** The store's {@link NodeReclaim}; UNSUPPORTED_FIELD naming the store when it keeps no node affinity. */
  private NodeReclaim reclaim(String command) {
    return store.capability(NodeReclaim.class).orElseThrow(() -> new IpamException(ErrorCode.UNSUPPORTED_FIELD,
        command + ": this store (" + store.getClass().getSimpleName() + ") keeps no node affinity; only the etcd"
        + " store does"));
  }

  @Override
  public java.util.Optional<io.jipam.core.store.capability.Claims> claims() {
    return store.capability(io.jipam.core.store.capability.Claims.class);
  }

  @Override
  public void close() {
    store.close();
  }
}
