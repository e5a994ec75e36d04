package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;
import static io.jipam.ctl.Prompts.confirm;

import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
import io.vertx.core.json.JsonArray;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

@Command(name = "gc", mixinStandardHelpOptions = true,
    description = {"Release every allocation of a pool whose attachment is not listed as valid.",
        "Shows what would go and asks first (--yes: do not ask); an empty valid list needs --allow-empty."})
final class Gc extends Jipamctl.Base {
  @Option(names = "--pool", required = true) String pool;
  @Option(names = "--valid", required = true, paramLabel = "FILE",
      description = "valid attachments, one containerID/ifname per line ('#' starts a comment); a regular file of"
          + " at most " + MAX_VALID_MIB + " MiB") Path valid;
  @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;
  @Option(names = "--yes", description = "do not ask") boolean yes;
  @Option(names = "--allow-empty", description = "accept a valid list naming no attachment: release every"
      + " allocation of the pool") boolean allowEmpty;

  /** The largest --valid file, in MiB: some 200,000 attachments of a usual length. */
  static final int MAX_VALID_MIB = 16;

  private Set<Attachment> keep;

  /** The valid list is read and checked before the store is opened: a bad one is a usage error. */
  @Override
  void checkUsage() {
    keep = readValid();
    if (keep.isEmpty() && !allowEmpty) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Printable.quote(valid.toString())
          + " names no attachment: gc would release every allocation of pool " + Printable.quote(pool)
          + "; give --allow-empty if that is meant");
    }
  }

  @Override
  int run(Backend store, boolean json) throws IOException {
    Pool p = pools(store, pool).get(0);
    List<Allocation> gone = store.retainOnlyPreview(p, keep);
    if (!dryRun && !gone.isEmpty() && !yes) {
      for (Allocation a : gone) {
        err().println("would release " + Formats.text(a, p.name()));
      }
      if (!confirm(this, "release these " + gone.size() + " allocation(s) of pool " + Formats.e(p.name()) + "?")) {
        if (json) {
          out().println(released(new JsonArray()).encodePrettily());
        }
        return 1;
      }
    }
    if (!dryRun && !gone.isEmpty()) {
      // asked: release what the operator saw and said yes to, one attachment after the other (a
      // GC now would also take attachments made while the question was open); not asked: one GC
      gone = yes ? store.retainOnly(p, keep) : releaseEach(store, p, gone);
    }
    JsonArray list = new JsonArray();
    for (Allocation a : gone) {
      if (json) {
        list.add(Formats.json(a, p.name()));
      } else {
        out().println((dryRun ? "would release " : "released ") + Formats.text(a, p.name()));
      }
    }
    if (json) {
      out().println(released(dryRun, list).encodePrettily());
    }
    return 0;
  }

  /** Releases the attachments of {@code confirmed}, each once; what was released, in address order. */
  private static List<Allocation> releaseEach(Backend store, Pool pool, List<Allocation> confirmed) {
    Set<Attachment> attachments = new java.util.LinkedHashSet<>();
    confirmed.forEach(a -> attachments.add(a.attachment()));
    List<Allocation> released = new java.util.ArrayList<>();
    for (Attachment a : attachments) {
      released.addAll(store.release(pool, a));
    }
    released.sort(java.util.Comparator.comparing(Allocation::address));
    return released;
  }

  private Set<Attachment> readValid() {
    List<String> lines;
    try {
      byte[] bytes = FileInput.read(valid, MAX_VALID_MIB << 20);
      lines = java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes))
          .toString().lines().toList();
    } catch (FileInput.Refused e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Printable.quote(valid.toString())
          + ": cannot read: " + e.getMessage());
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Printable.quote(valid.toString())
          + ": cannot read: not UTF-8 text");
    }
    Set<Attachment> keep = new HashSet<>();
    int n = 0;
    for (String line : lines) {
      n++;
      String t = line.trim();
      if (t.isEmpty() || t.startsWith("#")) {
        continue;
      }
      int slash = t.indexOf('/');
      if (slash <= 0) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Printable.quote(valid.toString())
            + " line " + n + " " + Printable.quote(t) + " is not containerID/ifname");
      }
      try {
        keep.add(new Attachment(t.substring(0, slash), t.substring(slash + 1)));
      } catch (IpamException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Printable.quote(valid.toString())
            + " line " + n + " " + Printable.quote(t) + " is not containerID/ifname: "
            + (e.getMessage().startsWith("invalid container ID") ? "invalid container ID" : "invalid interface name"));
      }
    }
    return keep;
  }
}
