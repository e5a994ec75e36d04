package io.jipam.ctl;

import io.jipam.core.IpamException;
import io.jipam.core.store.Pool;
import io.jipam.server.RemoteStore;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code jipamctl}: looks at and repairs the pools of a jipamd, or of a data dir or etcd store it
 * opens itself ({@code --data-dir}, {@code --etcd-config}); moves allocations between a data dir
 * and etcd ({@code migrate}). Glue over a {@link Backend}: every command is one or a few jipam.v1
 * calls or their in-process equivalents. Exit codes: 0 done (for {@code check}: nothing found), 1 a
 * call failed or {@code check} found something, 2 bad usage.
 */
@Command(name = "jipamctl", mixinStandardHelpOptions = true, version = "jipamctl 0.1.0",
    description = {"Operator CLI for jipam: pools, usage, list, show, release, gc, reclaim-node, lift-fence, check, migrate.",
        "Talks to jipamd (--server), or opens a store itself: --data-dir DIR (with --conf) or --etcd-config FILE."},
    subcommands = {Views.Pools.class, Views.Usage.class, Views.ListCmd.class, Views.Show.class,
        Changes.Release.class, Changes.Gc.class, Changes.ReclaimNode.class, Changes.LiftFence.class, Views.Check.class,
        Migrate.class})
public final class Jipamctl {
  @Mixin Connection connection;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Jipamctl());
    cl.setExecutionExceptionHandler((e, line, parsed) -> {
      if (e instanceof IpamException ipam) {
        line.getErr().println("jipamctl: " + ipam.code() + " (CNI " + ipam.code().cniCode() + "): " + ipam.getMessage());
        return 1;
      }
      if (e instanceof CommandLine.ParameterException bad) {
        line.getErr().println("jipamctl: " + bad.getMessage());
        return 2;
      }
      throw e;
    });
    return cl;
  }

  /** Where jipamd or the store is, and how to print: shared by every command. */
  static final class Connection {
    @Option(scope = CommandLine.ScopeType.INHERIT, names = {"-s", "--server"}, paramLabel = "ADDRESS", defaultValue = "unix:/run/jipam/jipam.sock",
        description = "jipamd: unix:/path or host:port (default: ${DEFAULT-VALUE})")
    String server;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--ca", paramLabel = "FILE", description = "TCP: CA (PEM) that signed jipamd's certificate")
    Path ca;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--cert", paramLabel = "FILE", description = "TCP: client certificate (PEM) for mutual TLS")
    Path cert;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--key", paramLabel = "FILE", description = "TCP: client key (PEM)")
    Path key;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--as-node", paramLabel = "NODE",
        description = "jipamd: act for this node (an operator's gc of a named node on a central jipamd)")
    String asNode;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--insecure", description = "TCP: plain, without TLS")
    boolean insecure;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--timeout", paramLabel = "SECONDS", defaultValue = "5", description = "per call (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "text", description = "text or json")
    String output;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--data-dir", paramLabel = "DIR",
        description = "open this file data dir (host-local's layout) directly instead of asking jipamd; pools from --conf")
    Path dataDir;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--etcd-config", paramLabel = "FILE",
        description = "open the etcd store directly: a JSON file with the etcd store's keys (as jipamd's --etcd-config)")
    Path etcdConfig;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--conf", paramLabel = "FILE|DIR",
        description = "network config(s) defining pools: a conflist, a .conf, or a directory of them (repeatable)")
    List<Path> confs = new ArrayList<>();

    Backend open(PrintWriter err) {
      if (dataDir != null && etcdConfig != null) {
        throw IpamException.invalidConfig("give --data-dir or --etcd-config, not both");
      }
      if (dataDir != null) {
        return DirectBackend.dataDir(dataDir, Confs.load(confs, err), err);
      }
      if (etcdConfig != null) {
        return DirectBackend.etcd(etcdConfig, null, Confs.load(confs, err));
      }
      RemoteStore.Target target = RemoteStore.Target.parse(server).withTimeout(Duration.ofSeconds(timeoutSeconds));
      if (!target.isUnix() && !insecure) {
        target = target.withTls(new RemoteStore.Tls(ca, cert, key));
      }
      return RemoteBackend.connect(target, asNode);
    }

    boolean json() {
      if (!output.equals("json") && !output.equals("text")) {
        throw IpamException.invalidConfig("-o %s: use text or json", output);
      }
      return output.equals("json");
    }
  }

  /** Base of the commands: the store, the output, and pool lookup by name. */
  abstract static class Base implements Callable<Integer> {
    @ParentCommand Jipamctl parent;
    @Spec CommandLine.Model.CommandSpec spec;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    @Override
    public Integer call() throws Exception {
      boolean json = parent.connection.json();
      try (Backend store = parent.connection.open(spec.commandLine().getErr())) {
        return run(store, json);
      }
    }

    PrintWriter err() {
      return spec.commandLine().getErr();
    }

    abstract int run(Backend store, boolean json) throws Exception;

    static List<Pool> pools(Backend store, String only) {
      List<Pool> out = new ArrayList<>();
      for (Pool p : store.pools()) {
        if (only == null || p.name().equals(only)) {
          out.add(p);
        }
      }
      if (only != null && out.isEmpty()) {
        throw IpamException.invalidConfig("%s has no pool named \"%s\" (jipamd knows a pool once a call named it;"
            + " a data dir's pools come from --conf)", store.describe(), only);
      }
      return out;
    }
  }
}
