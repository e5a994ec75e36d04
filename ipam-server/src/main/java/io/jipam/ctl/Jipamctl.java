package io.jipam.ctl;

import io.jipam.client.RemoteStore;
import io.jipam.core.IpamException;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.Pool;
import io.jipam.core.store.Printable;
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
    description = {"Operator CLI for jipam: pools, usage, list, show, release, gc, reclaim-node, lift-fence, retire-pool, check, migrate,"
        + " reserve, unreserve, reservations.",
        "Talks to jipamd (--server), or opens a store itself: --data-dir DIR (with --conf) or --etcd-config FILE."})
public final class Jipamctl {
  /**
   * The commands, in the order help lists them. Added to the command line in code, not named in
   * the annotation: picocli builds a command's model (its options, the inherited ones copied in)
   * when it is added, which was about a sixth of a start for a command that needed one of them.
   */
  static final List<Class<?>> COMMANDS = List.of(Pools.class, Usage.class, ListCmd.class, Show.class,
      Release.class, Gc.class, ReclaimNode.class, LiftFence.class, RetirePool.class, Check.class,
      Migrate.class, ReserveCmd.class, Unreserve.class, Reservations.class);

  @Mixin Connection connection;

  public static void main(String[] args) {
    // the libraries' own log lines (Vert.x's "Connection evicted" when jipamd does not answer) would
    // be a second line beside jipamctl's one-line error, which already says what failed
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
    }
    System.exit(execute(commandLine(args), args));
  }

  /**
   * {@code line.execute(args)}, and anything it throws (an Error, such as OutOfMemoryError, which
   * picocli's handlers do not see) as one line on its stderr, exit 1; never a stack trace
   * ({@code JIPAMCTL_DEBUG=1} prints it).
   */
  static int execute(CommandLine line, String[] args) {
    try {
      return line.execute(args);
    } catch (Throwable t) {
      try {
        line.getErr().println("jipamctl: failed: " + message(String.valueOf(t)));
        if (System.getenv("JIPAMCTL_DEBUG") != null) {
          t.printStackTrace(line.getErr());
        }
        line.getErr().flush();
      } catch (Throwable ignored) {
        // out of memory again: the exit code still says it failed
      }
      return 1;
    }
  }

  /** The most characters of a one-line message jipamctl prints: a value in it may be megabytes long. */
  static final int MESSAGE_LIMIT = 400;

  /**
   * A message as one line of a terminal ({@link Printable#line}), at most {@link #MESSAGE_LIMIT}
   * characters and then its length: picocli's messages echo the argument whole.
   */
  static String message(String text) {
    String line = Printable.line(text);
    if (line.length() <= MESSAGE_LIMIT) {
      return line;
    }
    int end = MESSAGE_LIMIT;
    if (Character.isHighSurrogate(line.charAt(end - 1))) {
      end--;
    }
    return line.substring(0, end) + "... (" + line.length() + " characters)";
  }

  /** The command line with every command. */
  public static CommandLine commandLine() {
    return commandLine(COMMANDS);
  }

  /**
   * The command line for {@code args}: with the commands their words name (a word equal to a
   * command's name, wherever it is; an option's value that happens to be one adds a command that
   * then goes unused), or with every command when no word names one (help, version, a mistyped
   * command, whose error then lists them). It parses {@code args} exactly as {@link #commandLine()}
   * does.
   */
  public static CommandLine commandLine(String[] args) {
    List<Class<?>> named = new ArrayList<>();
    for (Class<?> command : COMMANDS) {
      String name = command.getAnnotation(Command.class).name();
      for (String arg : args) {
        if (arg.equals(name)) {
          named.add(command);
          break;
        }
      }
    }
    return commandLine(named.isEmpty() ? COMMANDS : named);
  }

  private static CommandLine commandLine(List<Class<?>> commands) {
    CommandLine cl = new CommandLine(new Jipamctl());
    for (Class<?> command : commands) {
      cl.addSubcommand(command);
    }
    // no @FILE arguments: picocli would read any file named (a FIFO forever, /etc/shadow under a
    // sudo rule into its error message), past FileInput's bounds; a value starting with @ is a value
    cl.setExpandAtFiles(false);
    // a usage error is one line (the command's --help has the rest), exit 2
    cl.setParameterExceptionHandler((bad, args) -> {
      bad.getCommandLine().getErr().println("jipamctl: " + message(bad.getMessage()) + " (see "
          + bad.getCommandLine().getCommandSpec().qualifiedName() + " --help)");
      return 2;
    });
    cl.setExecutionExceptionHandler((e, line, parsed) -> {
      if (e instanceof IpamException ipam) {
        line.getErr().println("jipamctl: " + ipam.code() + " (CNI " + ipam.code().cniCode() + "): "
            + message(ipam.getMessage()));
        return 1;
      }
      if (e instanceof CommandLine.ParameterException bad) {
        line.getErr().println("jipamctl: " + message(bad.getMessage()));
        return 2;
      }
      // anything else is a bug or an I/O failure the commands did not expect: one line, never a
      // stack trace (JIPAMCTL_DEBUG=1 prints it)
      line.getErr().println("jipamctl: failed: " + message(String.valueOf(e)));
      if (System.getenv("JIPAMCTL_DEBUG") != null) {
        e.printStackTrace(line.getErr());
      }
      return 1;
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

    @Option(scope = CommandLine.ScopeType.INHERIT, names = "--timeout", paramLabel = "SECONDS", defaultValue = "5",
        description = "per call, " + MIN_TIMEOUT + " to " + MAX_TIMEOUT + " (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    @Option(scope = CommandLine.ScopeType.INHERIT, names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "text",
        description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    Format output;

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
      if (dataDir != null) {
        return DirectBackend.dataDir(dataDir, ConfPools.load(confs, err), err);
      }
      if (etcdConfig != null) {
        return DirectBackend.etcd(etcdConfig, null, ConfPools.load(confs, err));
      }
      RemoteStore.Target target = RemoteStore.Target.parse(server).withTimeout(Duration.ofSeconds(timeoutSeconds));
      if (!target.isUnix() && !insecure) {
        target = target.withTls(new RemoteStore.Tls(ca, cert, key));
      }
      return RemoteBackend.connect(target, asNode);
    }

    boolean json() {
      return output == Format.json;
    }

    /**
     * A usage error when an option is out of its range, empty, conflicts with another, or would do
     * nothing where it is given; before anything is opened: empty paths, --cert without --key,
     * --as-node with a store opened directly, --timeout, --data-dir with --etcd-config, jipamd's
     * options with a store opened directly and TLS options with a unix socket or with --insecure,
     * --server (when jipamctl is to ask jipamd) and its TLS files, --as-node (a node name).
     */
    void check(CommandLine line) {
      // inherited options are parsed at both levels, and the later level's value replaced the
      // earlier's without a word (--conf A migrate --conf B migrated B only)
      for (String option : new String[] {"--server", "--ca", "--cert", "--key", "--as-node", "--insecure", "--timeout",
          "--output", "--data-dir", "--etcd-config", "--conf"}) {
        int levels = 0;
        for (CommandLine c = line; c != null; c = c.getParent()) {
          CommandLine.ParseResult parsed = c.getParseResult();
          levels += parsed != null && parsed.hasMatchedOption(option) ? 1 : 0;
        }
        if (levels > 1) {
          throw new CommandLine.ParameterException(line, option + " is given both before and after the command:"
              + " give it at one place (several --conf at one place add up)");
        }
      }
      // an empty path is the working directory: a script's unset $DATADIR must not open (and write) it
      for (Object[] given : new Object[][] {{"--data-dir", dataDir}, {"--etcd-config", etcdConfig}, {"--ca", ca},
          {"--cert", cert}, {"--key", key}}) {
        if (given[1] != null && given[1].toString().isEmpty()) {
          throw new CommandLine.ParameterException(line, given[0] + " is empty: give a path");
        }
      }
      if (confs.stream().anyMatch(c -> c.toString().isEmpty())) {
        throw new CommandLine.ParameterException(line, "--conf is empty: give a path");
      }
      if ((cert == null) != (key == null)) {
        throw new CommandLine.ParameterException(line, cert != null
            ? "--cert " + Printable.quote(cert.toString()) + " needs --key"
            : "--key " + Printable.quote(key.toString()) + " needs --cert");
      }
      if (asNode != null && (dataDir != null || etcdConfig != null)) {
        // a store opened directly acts as its own node (the etcd config's), never as another
        throw new CommandLine.ParameterException(line, "--as-node " + Printable.quote(asNode) + " acts through"
            + " jipamd; with " + (dataDir != null ? "--data-dir the store is opened directly (one node's data dir)"
                : "--etcd-config the store is opened directly and acts as the etcd config's \"node\""));
      }
      if (timeoutSeconds < MIN_TIMEOUT || timeoutSeconds > MAX_TIMEOUT) {
        throw new CommandLine.ParameterException(line, "--timeout " + timeoutSeconds + ": give " + MIN_TIMEOUT
            + " to " + MAX_TIMEOUT + " seconds");
      }
      if (dataDir != null && etcdConfig != null) {
        throw new CommandLine.ParameterException(line, "--data-dir " + Printable.quote(dataDir.toString())
            + " and --etcd-config " + Printable.quote(etcdConfig.toString()) + ": give one, not both");
      }
      // options that would do nothing here are refused, as jipamd refuses them: a script that
      // gives them means something jipamctl would not do
      String direct = dataDir != null ? "--data-dir" : etcdConfig != null ? "--etcd-config" : null;
      for (String tls : new String[] {"--server", "--ca", "--cert", "--key", "--insecure"}) {
        if (direct != null && given(line, tls)) {
          throw new CommandLine.ParameterException(line, tls + " applies to jipamd; with " + direct
              + " the store is opened directly");
        }
      }
      if (direct == null && (server.startsWith("unix:") || server.startsWith("/"))) {
        for (String tls : new String[] {"--ca", "--cert", "--key", "--insecure"}) {
          if (given(line, tls)) {
            throw new CommandLine.ParameterException(line, tls + " applies to jipamd on TCP; --server "
                + Printable.quote(server) + " is a unix socket");
          }
        }
      }
      if (insecure && (ca != null || cert != null)) {
        throw new CommandLine.ParameterException(line, "--insecure is plain TCP, without TLS; --ca, --cert and --key"
            + " are TLS: give one or the other");
      }
      if (dataDir == null && etcdConfig == null) {
        RemoteStore.Target target;
        try {
          target = RemoteStore.Target.parse(server);
        } catch (IpamException | IllegalArgumentException e) {
          throw new CommandLine.ParameterException(line, "--server " + Printable.quote(server)
              + " is not unix:/path or host:port (port 1 to 65535)");
        }
        if (!target.isUnix() && !insecure) {
          // read now as every file jipamctl reads (a FIFO or /dev/zero would hang the TLS set-up
          // past --timeout), and checked as PEM (else the handshake's failure reads "no jipamd answers")
          for (Object[] file : new Object[][] {{"--ca", ca}, {"--cert", cert}, {"--key", key}}) {
            Path path = (Path) file[1];
            if (path == null) {
              continue;
            }
            byte[] bytes;
            try {
              bytes = FileInput.read(path, MAX_TLS_FILE_BYTES);
            } catch (FileInput.Refused e) {
              throw new CommandLine.ParameterException(line, file[0] + " " + Printable.quote(path.toString())
                  + " cannot be read: " + e.getMessage());
            }
            String text = new String(bytes, java.nio.charset.StandardCharsets.US_ASCII);
            String wanted = file[0].equals("--key") ? "PRIVATE KEY-----" : "-----BEGIN CERTIFICATE-----";
            if (!text.contains(wanted)) {
              throw new CommandLine.ParameterException(line, file[0] + " " + Printable.quote(path.toString())
                  + " is not PEM: no " + (file[0].equals("--key") ? "private key" : "certificate") + " in it");
            }
          }
        }
      }
      String problem = asNode == null ? null : NodeName.problem(asNode);
      if (problem != null) {
        throw new CommandLine.ParameterException(line, "--as-node: invalid node name " + Printable.quote(asNode)
            + ": " + problem);
      }
    }
  }

  /** The largest --ca, --cert or --key file read: a chain of certificates is a few KB. */
  static final int MAX_TLS_FILE_BYTES = 1 << 20;

  /** Whether {@code option} was given on the command line, before or after the subcommand. */
  static boolean given(CommandLine line, String option) {
    for (CommandLine c = line; c != null; c = c.getParent()) {
      CommandLine.ParseResult parsed = c.getParseResult();
      if (parsed != null && parsed.hasMatchedOption(option)) {
        return true;
      }
    }
    return false;
  }

  static final int MIN_TIMEOUT = 1;
  static final int MAX_TIMEOUT = 3600;

  /** What {@code -o} accepts; lowercase, as typed. */
  enum Format {
    text, json
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
      parent.connection.check(spec.commandLine());
      checkUsage();
      boolean json = parent.connection.json();
      PrintWriter notes = readsPoolDefinitions() ? spec.commandLine().getErr() : new PrintWriter(java.io.Writer.nullWriter());
      try (Backend store = parent.connection.open(notes)) {
        return run(store, json);
      }
    }

    /**
     * Whether the command works with pool definitions (from --conf on a data dir): then opening the
     * store notes a data dir's network without one. A command that names its pool and needs none of
     * its ranges (retire-pool) is not told.
     */
    boolean readsPoolDefinitions() {
      return true;
    }

    PrintWriter err() {
      return spec.commandLine().getErr();
    }

    abstract int run(Backend store, boolean json) throws Exception;

    /** Checks the command's own arguments before anything is opened: a usage error is a ParameterException. */
    void checkUsage() {}

    /**
     * {@code node} when it is a node name ({@link NodeName}); a usage error naming {@code what}
     * otherwise.
     */
    String nodeName(String node, String what) {
      String problem = node == null ? null : NodeName.problem(node);
      if (problem != null) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            what + ": invalid node name " + Printable.quote(node) + ": " + problem);
      }
      return node;
    }

    static List<Pool> pools(Backend store, String only) {
      List<Pool> out = new ArrayList<>();
      for (Pool p : store.pools()) {
        if (only == null || p.name().equals(only)) {
          out.add(p);
        }
      }
      if (only != null && out.isEmpty()) {
        throw IpamException.invalidConfig("%s has no pool named %s (jipamd knows a pool once a call named it;"
            + " a data dir's pools come from --conf)", store.describe(), Printable.quote(only));
      }
      return out;
    }
  }
}
