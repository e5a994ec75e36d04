package io.jipam.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jipam.api.WireMapping;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.ListPages;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.store.capability.ReclaimPolicy;
import io.jipam.core.store.capability.ReclaimPreview;
import io.jipam.core.store.capability.ReclaimReport;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code jipamctl reclaim-node}'s text and JSON for reports and dry runs (forced or not, never
 * seen, fenced already, refused), from a store jipamctl opened and through a jipamd's answer.
 * {@code reclaim-golden.txt} is what jipamctl printed for the same reports at 44c3553, before its
 * backends spoke domain types (through {@code ReclaimNodeResponse}).
 */
class ReclaimNodeTest {
  static final Map<String, List<Allocation>> HELD = Map.of(
      "pods", List.of(new Allocation(IpAddress.parse("198.18.0.2"), 0, new Attachment("c1", "eth0"), new PodRef("ns", "p1")),
          new Allocation(IpAddress.parse("198.18.0.3"), 0, new Attachment("c2", "eth0"), PodRef.UNKNOWN)),
      "other", List.of(new Allocation(IpAddress.parse("fd00:1::5"), 1, new Attachment("c3", "net1"),
          new PodRef("kube-system", "dns"))));
  static final Instant SEEN = Instant.parse("2026-12-04T23:10:07.123456Z");

  record Case(Object answer, String... args) {}

  static final List<Case> CASES = List.of(
      new Case(new ReclaimReport("node-b", SEEN, true, HELD, 2, 1, 3), "node-b", "--force"),
      new Case(new ReclaimReport("node-b", null, false, Map.of(), 0, 0, 0), "node-b", "--quiet-period", "5"),
      new Case(new ReclaimPreview("node-b", SEEN, true, false, HELD), "node-b", "--dry-run"),
      new Case(new ReclaimPreview("node-b", SEEN, true, false, HELD), "node-b", "--dry-run", "--force"),
      new Case(new ReclaimPreview("node-b", SEEN, true, true, HELD), "node-b", "--dry-run"),
      new Case(new ReclaimPreview("node-b", null, false, false, Map.of()), "node-b", "--dry-run"));

  /** Every case, text and JSON, with its exit; {@code path} is how a report reaches the command. */
  static String output(BiFunction<Object, ReclaimPolicy, Object> path) {
    StringWriter all = new StringWriter();
    for (Case c : CASES) {
      for (boolean json : new boolean[] {false, true}) {
        ReclaimNode cmd = new ReclaimNode();
        CommandLine line = new CommandLine(cmd);
        StringWriter sw = new StringWriter();
        line.setOut(new PrintWriter(sw, true));
        line.parseArgs(c.args());
        int exit = cmd.run(new Stub() {
          @Override
          public ReclaimReport reclaimNode(String node, ReclaimPolicy policy) {
            return (ReclaimReport) path.apply(c.answer(), policy);
          }

          @Override
          public ReclaimPreview previewReclaim(String node, ReclaimPolicy policy) {
            return (ReclaimPreview) path.apply(c.answer(), policy);
          }
        }, json);
        line.getOut().flush();
        all.write("== " + String.join(" ", c.args()) + (json ? " json" : "") + " exit " + exit + "\n" + sw);
      }
    }
    return all.toString();
  }

  @Test
  void run_reportsAndDryRuns_sameBytesAsBefore() throws Exception {
    String golden = Golden.read("reclaim-golden.txt");
    assertEquals(golden, output((answer, policy) -> answer), "a store jipamctl opened");
    assertEquals(golden, output((answer, policy) -> answer instanceof ReclaimReport r
        ? WireMapping.report("node-b", WireMapping.report(r))
        : WireMapping.preview("node-b", WireMapping.preview((ReclaimPreview) answer, policy))), "a jipamd's answer");
  }

  /** A backend for reclaim-node only. */
  abstract static class Stub implements Backend {
    @Override
    public String describe() {
      return "stub";
    }

    @Override
    public List<Pool> pools() {
      throw new UnsupportedOperationException();
    }

    @Override
    public PoolStatus status(Pool pool) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<ListPages.Listed> list(Pool pool, ListPages.Filter filter) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<Allocation> find(Pool pool, Attachment attachment) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<Allocation> release(Pool pool, Attachment attachment) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<Allocation> retainOnly(Pool pool, Set<Attachment> valid) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<Allocation> retainOnlyPreview(Pool pool, Set<Attachment> valid) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<String> audit(Pool pool) {
      throw new UnsupportedOperationException();
    }

    @Override
    public AllocationOutcome allocate(Pool pool, AllocationRequest request) {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean liftFence(String node) {
      throw new UnsupportedOperationException();
    }

    @Override
    public io.jipam.core.store.capability.RetireOutcome retirePool(String pool) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
  }
}
