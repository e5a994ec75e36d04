package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;
import static io.jipam.ctl.Prompts.confirm;

import io.jipam.core.IpamException;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.vertx.core.json.JsonArray;
import java.io.IOException;
import java.nio.file.Files;
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
      description = "valid attachments, one containerID/ifname per line ('#' starts a comment)") Path valid;
  @Option(names = "--dry-run", description = "print what would be released; change nothing") boolean dryRun;
  @Option(names = "--yes", description = "do not ask") boolean yes;
  @Option(names = "--allow-empty", description = "accept a valid list naming no attachment: release every"
      + " allocation of the pool") boolean allowEmpty;

  @Override
  int run(Backend store, boolean json) throws IOException {
    Set<Attachment> keep = readValid();
    if (keep.isEmpty() && !allowEmpty) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Formats.e(valid) + " names no"
          + " attachment: gc would release every allocation of pool " + Formats.e(pool)
          + "; give --allow-empty if that is meant");
    }
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
      gone = store.retainOnly(p, keep);
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

  private Set<Attachment> readValid() {
    List<String> lines;
    try {
      lines = Files.readAllLines(valid);
    } catch (IOException | java.io.UncheckedIOException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--valid " + Formats.e(valid) + ": cannot read: "
          + (e instanceof java.nio.file.NoSuchFileException ? "no such file"
          : e instanceof java.nio.charset.CharacterCodingException ? "not UTF-8 text" : Formats.e(e)));
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
        throw IpamException.invalidConfig("%s line %d \"%s\" is not containerID/ifname", valid, n, Formats.e(t));
      }
      keep.add(new Attachment(t.substring(0, slash), t.substring(slash + 1)));
    }
    return keep;
  }
}
