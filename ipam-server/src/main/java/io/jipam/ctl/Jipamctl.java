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
 * {@code jipamctl}: looks at and repairs the pools a jipamd serves. Glue over {@link RemoteStore}:
 * every command is one or a few jipam.v1 calls. Exit codes: 0 done (for {@code check}: nothing
 * found), 1 a call failed or {@code check} found something, 2 bad usage.
 */
@Command(name = "jipamctl", mixinStandardHelpOptions = true, version = "jipamctl 0.1.0",
    description = "Operator CLI for jipamd: pools, usage, list, show, release, gc, reclaim-node, lift-fence, check.",
    subcommands = {Views.Pools.class, Views.Usage.class, Views.ListCmd.class, Views.Show.class,
        Changes.Release.class, Changes.Gc.class, Changes.ReclaimNode.class, Changes.LiftFence.class, Views.Check.class})
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
      throw e;
    });
    return cl;
  }

  /** Where jipamd is and how to print: shared by every command. */
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

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--insecure", description = "TCP: plain, without TLS")
    boolean insecure;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--timeout", paramLabel = "SECONDS", defaultValue = "5", description = "per call (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "text", description = "text or json")
    String output;

    RemoteStore open() {
      RemoteStore.Target target = RemoteStore.Target.parse(server).withTimeout(Duration.ofSeconds(timeoutSeconds));
      if (!target.isUnix() && !insecure) {
        target = target.withTls(new RemoteStore.Tls(ca, cert, key));
      }
      return RemoteStore.connect(target);
    }

    boolean json() {
      if (!output.equals("json") && !output.equals("text")) {
        throw IpamException.invalidConfig("-o %s: use text or json", output);
      }
      return output.equals("json");
    }
  }

  /** Base of the commands: the connection, the output, and pool lookup by name. */
  abstract static class Base implements Callable<Integer> {
    @ParentCommand Jipamctl parent;
    @Spec CommandLine.Model.CommandSpec spec;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    @Override
    public Integer call() throws Exception {
      boolean json = parent.connection.json();
      try (RemoteStore store = parent.connection.open()) {
        return run(store, json);
      }
    }

    abstract int run(RemoteStore store, boolean json) throws Exception;

    static List<Pool> pools(RemoteStore store, String only) {
      List<Pool> out = new ArrayList<>();
      for (RemoteStore.PoolStatus p : store.pools()) {
        if (only == null || p.pool().name().equals(only)) {
          out.add(p.pool());
        }
      }
      if (only != null && out.isEmpty()) {
        throw IpamException.invalidConfig("jipamd serves no pool named \"%s\" (it knows a pool once a call named it)", only);
      }
      return out;
    }
  }
}
