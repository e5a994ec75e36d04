package io.jipam.ctl;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.ListPages;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The planning half of {@code jipamctl migrate} ({@link Migrate} gives the rules): for one pool,
 * what the source holds, checked against what the target holds now, into the attachments to
 * write, those already there and the refusals; and how an attachment is described in text and
 * JSON.
 *
 * <p>Contract: {@link #plan} reads the source and the target and writes nothing to either (on a
 * dry run into a data dir not made yet, the target is read as empty); it prints what it found
 * (present attachments to the text, refusals to {@code err}) and fills the pool's report. One
 * instance serves one run, on one thread.
 */
final class MigratePlanner {
  /** The target as given ({@code --to}): a data dir's pool directories are looked for there. */
  private final Path to;
  /** {@code --node}, or null. */
  private final String node;
  private final boolean dryRun;
  /** Where the text goes: stdout, or nowhere under {@code -o json}. */
  private final PrintWriter text;
  private final PrintWriter err;

  MigratePlanner(Path to, String node, boolean dryRun, PrintWriter text, PrintWriter err) {
    this.to = to;
    this.node = node;
    this.dryRun = dryRun;
    this.text = text;
    this.err = err;
  }

  /**
   * One attachment to copy: its addresses in range set order, the origin the source recorded for
   * each (a null value: none recorded, as in host-local's files), and its pod.
   */
  record Item(Attachment attachment, Map<IpAddress, AllocationOrigin> origins, PodRef pod) {
    List<IpAddress> addresses() {
      return List.copyOf(origins.keySet());
    }
  }

  /** Why an attachment (or, both null, the whole pool) cannot be copied; {@code reason} without the pool's name. */
  record Refusal(IpAddress address, Attachment attachment, String reason) {}

  /**
   * What a run does to one pool: the attachments to write, those there already, and the refusals
   * (any refusal: nothing of the run is written). Reads only.
   */
  record Plan(Pool pool, JsonObject report, String targetName, List<Item> write, List<Item> present,
      List<Refusal> refusals) {
    boolean refused() {
      return !refusals.isEmpty();
    }
  }

  /** The pool as etcd defines it (its ranges may be wider than the node's config's). */
  static Pool stored(DirectBackend etcd, Pool p) {
    for (Pool defined : etcd.definedPools()) {
      if (defined.name().equals(p.name())) {
        return defined;
      }
    }
    return null;
  }

  /** Plans one pool; {@code target} is null on a dry run into a data dir that does not exist yet (empty). */
  Plan plan(Pool p, Pool sourcePool, boolean fromEtcd, boolean toEtcd, DirectBackend source,
      DirectBackend target, JsonObject report) {
    String targetName = target == null ? "data dir " + Printable.quote(to.toString()) + " (to be created)"
        : target.describe();
    PrintWriter out = text;
    report.put("target", targetName).put(dryRun ? "wouldWrite" : "written", new JsonArray()).put("present", new JsonArray())
        .put("refused", new JsonArray());
    if (sourcePool == null) {
      String why = "not defined in " + source.describe() + ": nothing to copy";
      report.put("notInSource", why);
      out.println(p.name() + ": " + why);
      return new Plan(p, report, targetName, List.of(), List.of(), List.of());
    }
    // what the source holds, by attachment
    Map<Attachment, List<Allocation>> held = new TreeMap<>((a, b) -> a.toString().compareTo(b.toString()));
    for (ListPages.Listed l : source.list(sourcePool, ListPages.Filter.ALL)) {
      if (!fromEtcd || node.equals(l.node())) {
        held.computeIfAbsent(l.allocation().attachment(), k -> new ArrayList<>()).add(l.allocation());
      }
    }
    // what the target holds now; on a dry run, a pool the target does not have yet is read as
    // empty (reading it would define it in etcd, or make its directory)
    List<Refusal> refusals = new ArrayList<>();
    boolean targetHasPool = target != null;
    if (target != null && toEtcd) {
      Pool stored = stored(target, p);
      targetHasPool = stored != null;
      if (stored != null && !stored.rangeSets().equals(p.rangeSets())) {
        refusals.add(new Refusal(null, null, "defined in " + targetName + " with ranges " + stored.rangeSets()
            + ", --conf says " + p.rangeSets()));
        targetHasPool = false;
      }
    } else if (target != null) {
      targetHasPool = Files.isDirectory(to.resolve(p.name()));
    }
    Map<IpAddress, Attachment> holderOf = new HashMap<>();
    Map<Attachment, List<IpAddress>> targetHolds = new HashMap<>();
    Map<Attachment, String> targetNode = new HashMap<>();
    for (ListPages.Listed l : !targetHasPool ? List.<ListPages.Listed>of()
        : target.list(p, ListPages.Filter.ALL)) {
      holderOf.put(l.allocation().address(), l.allocation().attachment());
      targetHolds.computeIfAbsent(l.allocation().attachment(), k -> new ArrayList<>()).add(l.allocation().address());
      if (l.node() != null) {
        targetNode.put(l.allocation().attachment(), l.node());
      }
    }
    // held or reserved in the target for a pod: the copy of another pod's attachment there is refused
    Map<IpAddress, io.jipam.core.store.Claim> claimed = new HashMap<>();
    for (io.jipam.core.store.Claim c : !targetHasPool ? List.<io.jipam.core.store.Claim>of() : target.claims(p)) {
      if (c.kind() != io.jipam.core.store.Claim.Kind.COOLING) {
        claimed.put(c.address(), c);
      }
    }
    List<Item> write = new ArrayList<>();
    List<Item> present = new ArrayList<>();
    for (Map.Entry<Attachment, List<Allocation>> e : held.entrySet()) {
      Attachment a = e.getKey();
      IpAddress[] bySet = new IpAddress[p.rangeSets().size()];
      AllocationOrigin[] originBySet = new AllocationOrigin[bySet.length];
      PodRef pod = PodRef.UNKNOWN;
      boolean ok = true;
      if (InterfaceName.isMark(a.ifname())) {
        IpAddress first = e.getValue().get(0).address();
        refusals.add(new Refusal(first, a, first + " is held by container " + a.containerId()
            + " without an interface name (an address file of host-local before 0.7); release it or rewrite the"
            + " file as CONTAINERID\\r\\nIFNAME first"));
        continue;
      }
      for (Allocation x : e.getValue()) {
        pod = x.pod().isKnown() ? x.pod() : pod;
        int set = p.rangeSetIndexOf(x.address());
        if (set < 0) {
          refusals.add(new Refusal(x.address(), a, x.address() + " of " + a + " is in no range set of the target pool "
              + Formats.ranges(p.rangeSets().get(0)) + (p.rangeSets().size() > 1 ? ", ..." : "")));
          ok = false;
        } else if (bySet[set] != null) {
          refusals.add(new Refusal(x.address(), a, a + " holds " + bySet[set] + " and " + x.address()
              + " in range set " + set));
          ok = false;
        } else {
          bySet[set] = x.address();
          originBySet[set] = x.origin();
        }
        io.jipam.core.store.Claim claim = claimed.get(x.address());
        PodRef holder = claim == null ? null : claim.pod();
        boolean forThisPod = holder != null && x.pod().isKnown() && holder.namespace().equals(x.pod().namespace())
            && (holder.name().isEmpty() || holder.name().equals(x.pod().name()));
        if (claim != null && holderOf.get(x.address()) == null && !forThisPod) {
          refusals.add(new Refusal(x.address(), a, x.address() + " of " + a + " is "
              + (claim.kind() == io.jipam.core.store.Claim.Kind.HOLD ? "held" : "reserved") + " for "
              + Printable.quote(holder.toString()) + " in " + targetName));
          ok = false;
        }
        Attachment other = holderOf.get(x.address());
        if (other != null && !other.equals(a)) {
          refusals.add(new Refusal(x.address(), a, x.address() + " of " + a + " is already held by " + other + " in "
              + targetName));
          ok = false;
        }
      }
      for (int s = 0; ok && s < bySet.length; s++) {
        if (bySet[s] == null) {
          refusals.add(new Refusal(null, a, a + " has no address in range set " + s + " of the target pool; copying it"
              + " would hand it a new one"));
          ok = false;
        }
      }
      if (!ok) {
        continue;
      }
      Map<IpAddress, AllocationOrigin> origins = new LinkedHashMap<>();
      for (int s = 0; s < bySet.length; s++) {
        origins.put(bySet[s], originBySet[s]);
      }
      Item item = new Item(a, origins, pod);
      List<IpAddress> there = targetHolds.get(a);
      String holderNode = targetNode.get(a);
      if (there == null) {
        write.add(item);
      } else if (toEtcd && holderNode != null && !holderNode.equals(target.node())) {
        // the same addresses under another node: its GC or reclaim would release this node's pod
        refusals.add(new Refusal(item.addresses().get(0), a, a + " holds " + there + " in " + targetName
            + " for node " + Printable.quote(holderNode) + ", not for node " + Printable.quote(target.node())));
      } else if (Set.copyOf(there).equals(Set.copyOf(item.addresses()))) {
        present.add(item);
      } else {
        refusals.add(new Refusal(item.addresses().get(0), a, a + " holds " + there + " in " + targetName + ", not "
            + item.addresses()));
      }
    }
    for (Item i : present) {
      report.getJsonArray("present").add(json(i));
      out.println(p.name() + ": " + describe(i) + " already in the target");
    }
    if (!refusals.isEmpty()) {
      for (Refusal r : refusals) {
        report.getJsonArray("refused").add(json(r));
        err.println("jipamctl: refused: " + Formats.e(p.name() + ": " + r.reason()));
      }
      err.println("jipamctl: " + p.name() + ": nothing written (" + refusals.size() + " refused of " + held.size()
          + " attachments)");
    }
    return new Plan(p, report, targetName, write, present, refusals);
  }


  JsonObject json(Item i) {
    JsonArray addrs = new JsonArray();
    JsonArray origins = new JsonArray();
    i.origins().forEach((x, why) -> {
      addrs.add(x.toString());
      origins.add(why == null ? null : why.label());
    });
    return new JsonObject().put("containerId", i.attachment().containerId()).put("ifname", i.attachment().ifname())
        .put("addresses", addrs).put("origins", origins).put("podNamespace", i.pod().namespace())
        .put("podName", i.pod().name()).put("node", node);
  }

  static JsonObject json(Refusal r) {
    return new JsonObject().put("address", r.address() == null ? null : r.address().toString())
        .put("attachment", r.attachment() == null ? null : r.attachment().toString()).put("reason", r.reason());
  }

  String describe(Item i) {
    List<String> addrs = new ArrayList<>();
    i.addresses().forEach(x -> addrs.add(x.toString()));
    return Formats.e(i.attachment()) + " " + String.join(",", addrs) + " pod " + Formats.e(i.pod())
        + (node != null ? " node " + node : "");
  }
}
