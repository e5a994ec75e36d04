package io.jipam.ctl;

import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.server.RemoteStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** jipamctl's commands that change allocations: release, gc, reclaim-node; each with a dry run or a question first. */
final class Changes {
  private Changes() {}

  @Command(name = "release", mixinStandardHelpOptions = true,
      description = "Release an address (its whole attachment) or an attachment's addresses.")
  static final class Release extends Jipamctl.Base {
    @Parameters(paramLabel = "ADDRESS|CONTAINERID[/IFNAME]") String what;
    @Option(names = "--yes", description = "do not ask") boolean yes;
    @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;

    @Override
    int run(RemoteStore store, boolean json) throws IOException {
      Map<Pool, List<Allocation>> found = Views.matching(store, what);
      if (found.isEmpty()) {
        spec.commandLine().getErr().println("jipamctl: nothing allocated matches " + what);
        return 1;
      }
      Map<Pool, Set<Attachment>> attachments = new java.util.LinkedHashMap<>();
      found.forEach((p, list) -> list.forEach(a -> attachments.computeIfAbsent(p, k -> new java.util.LinkedHashSet<>())
          .add(a.attachment())));
      for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
        for (Attachment a : e.getValue()) {
          for (Allocation held : store.find(e.getKey(), a)) {
            out().println((dryRun ? "would release " : "releasing ") + Views.text(held, e.getKey().name()));
          }
        }
      }
      if (dryRun) {
        return 0;
      }
      if (!yes && !confirm()) {
        spec.commandLine().getErr().println("jipamctl: not released");
        return 1;
      }
      for (Map.Entry<Pool, Set<Attachment>> e : attachments.entrySet()) {
        for (Attachment a : e.getValue()) {
          store.release(e.getKey(), a);
        }
      }
      return 0;
    }

    private boolean confirm() throws IOException {
      out().print("release? [y/N] ");
      out().flush();
      String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
      return line != null && (line.trim().equalsIgnoreCase("y") || line.trim().equalsIgnoreCase("yes"));
    }
  }

  @Command(name = "gc", mixinStandardHelpOptions = true,
      description = "Release every allocation of a pool whose attachment is not listed as valid.")
  static final class Gc extends Jipamctl.Base {
    @Option(names = "--pool", required = true) String pool;
    @Option(names = "--valid", required = true, paramLabel = "FILE",
        description = "valid attachments, one containerID/ifname per line") Path valid;
    @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;

    @Override
    int run(RemoteStore store, boolean json) throws IOException {
      Set<Attachment> keep = new HashSet<>();
      int n = 0;
      for (String line : Files.readAllLines(valid)) {
        n++;
        String t = line.trim();
        if (t.isEmpty() || t.startsWith("#")) {
          continue;
        }
        int slash = t.indexOf('/');
        if (slash <= 0) {
          throw IpamException.invalidConfig("%s line %d \"%s\" is not containerID/ifname", valid, n, t);
        }
        keep.add(new Attachment(t.substring(0, slash), t.substring(slash + 1)));
      }
      Pool p = pools(store, pool).get(0);
      List<Allocation> gone;
      if (dryRun) {
        gone = new ArrayList<>();
        for (Allocation a : store.list(p)) {
          if (!keep.contains(a.attachment())) {
            gone.add(a);
          }
        }
      } else {
        gone = store.retainOnly(p, keep);
      }
      for (Allocation a : gone) {
        out().println((dryRun ? "would release " : "released ") + Views.text(a, p.name()));
      }
      return 0;
    }
  }

  @Command(name = "reclaim-node", mixinStandardHelpOptions = true,
      description = "Release everything a node that is gone held (etcd store).")
  static final class ReclaimNode extends Jipamctl.Base {
    @Parameters(paramLabel = "NODE") String node;
    @Option(names = "--dry-run", description = "not supported yet: refused") boolean dryRun;

    @Override
    int run(RemoteStore store, boolean json) {
      if (dryRun) {
        throw new IpamException(io.jipam.core.ErrorCode.UNSUPPORTED_FIELD,
            "reclaim-node --dry-run is not supported: the API has no per-node listing yet");
      }
      Map<String, List<Allocation>> released = store.reclaimNode(node);
      released.forEach((pool, list) -> list.forEach(a -> out().println("released " + Views.text(a, pool))));
      return 0;
    }
  }
}
