package io.jipam.server;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.NodeName;
import io.jipam.core.store.IpamStore;
import io.jipam.server.grpc.CallerIdentity;
import io.jipam.server.metrics.CallLog;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jipamd}: serves one IPAM store over gRPC (and the plugin's CNI call on its unix socket)
 * until SIGTERM. Glue only: options to {@link IpamServer.Settings} and {@link
 * StoreFactory.StoreSettings}, checked, then {@link JipamdStart} starts and serves. Exit codes: 0 after a clean shutdown, 2 for a bad option or
 * setting (the message names it), 1 when the store or a listener cannot start.
 */
@Command(name = "jipamd", mixinStandardHelpOptions = true, versionProvider = Jipamd.Version.class,
    sortOptions = false,
    description = "jipam's IPAM service: serves an IPAM store to the jipam plugin (unix socket),"
        + " to other jipamds and to jipamctl (gRPC, jipam.v1.Ipam).")
public final class Jipamd implements Callable<Integer> {
  @Option(names = "--socket", paramLabel = "PATH", defaultValue = "/run/jipam/jipam.sock",
      description = "unix socket for the node's plugins and jipamctl, mode 0600 (default: ${DEFAULT-VALUE})")
  Path socket;

  @Option(names = "--no-socket", description = "do not listen on a unix socket")
  boolean noSocket;

  @Option(names = "--listen", paramLabel = "HOST:PORT", description = "also serve gRPC on TCP (TLS unless --insecure)")
  String listen;

  @Option(names = "--insecure", description = "allow plain TCP without TLS")
  boolean insecure;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "server certificate chain (PEM) for TCP")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "server private key (PEM) for TCP")
  Path tlsKey;

  @Option(names = "--client-ca", paramLabel = "FILE",
      description = "CA (PEM) whose client certificates are required on TCP (mutual TLS)")
  Path clientCa;

  @Option(names = "--store", paramLabel = "TYPE", defaultValue = "file",
      description = "file, etcd, remote or memory (default: ${DEFAULT-VALUE})")
  String store;

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "/var/lib/cni/networks",
      description = "file store: data dir in the host-local layout (default: ${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--fsync", description = "file store: force every change to disk before answering")
  boolean fsync;

  @Option(names = "--etcd-config", paramLabel = "FILE",
      description = "etcd store: JSON object with the keys of the plugin's ipam.store for etcd")
  Path etcdConfig;

  @Option(names = "--remote", paramLabel = "ADDRESS", description = "remote store: unix:/path or host:port of the central jipamd")
  String remote;

  @Option(names = "--remote-address", paramLabel = "IP",
      description = "remote store: connect to this IP instead of looking up --remote's host; the central"
          + " jipamd's certificate must still name the host (a Service's IP before the cluster's DNS runs)")
  String remoteAddress;

  @Option(names = "--remote-ca", paramLabel = "FILE", description = "remote store: CA (PEM) of the central jipamd")
  Path remoteCa;

  @Option(names = "--remote-cert", paramLabel = "FILE", description = "remote store: client certificate (PEM)")
  Path remoteCert;

  @Option(names = "--remote-key", paramLabel = "FILE", description = "remote store: client key (PEM)")
  Path remoteKey;

  @Option(names = "--remote-insecure", description = "remote store: plain TCP without TLS")
  boolean remoteInsecure;

  @Option(names = "--node-name", paramLabel = "NAME",
      description = "remote store: the node this jipamd acts for, sent with every call (default: env"
          + " JIPAM_NODE_NAME, then NODE_NAME, then the host name)")
  String nodeName;

  @Option(names = "--operator-ca", paramLabel = "FILE",
      description = "CA (PEM) whose client certificates are operators on TCP (may reclaim, audit, act for any"
          + " node); other client certificates are nodes named by their subject CN")
  Path operatorCa;

  @Option(names = "--workers", defaultValue = "8", description = "threads running store calls (default: ${DEFAULT-VALUE})")
  int workers;

  @Option(names = "--queue", defaultValue = "1024",
      description = "calls waiting for a worker before jipamd answers 'try again later', 1 to 65536 (default: ${DEFAULT-VALUE})")
  int queue;

  @Option(names = "--shutdown-timeout", paramLabel = "SECONDS", defaultValue = "10",
      description = "on SIGTERM, how long in-flight calls may take to finish, 0 to 3600 (default: ${DEFAULT-VALUE})")
  int shutdownSeconds;

  @Option(names = "--idle-timeout", paramLabel = "SECONDS", defaultValue = "30",
      description = "close a connection idle this long, or without a request this long after connecting;"
          + " a CNI request must arrive whole within it (default: ${DEFAULT-VALUE})")
  int idleSeconds;

  @Option(names = "--warm-up", paramLabel = "PAIRS", defaultValue = "0",
      description = "before serving, warm the CNI path's JIT with this many ADD+DEL pairs on a scratch socket and"
          + " scratch file store (at most 20 s), 0 to 100000 (default: ${DEFAULT-VALUE})")
  int warmUpPairs;

  @Option(names = "--log-calls", description = "log one line per call on stderr")
  boolean logCalls;

  @Option(names = "--metrics", paramLabel = "HOST:PORT",
      description = "serve Prometheus metrics on http://HOST:PORT/metrics, plain HTTP (default: off; port 0 picks one)")
  String metrics;

  /** Bounds of --workers and --queue: threads are memory, and every queued call holds its request. */
  static final int MAX_WORKERS = 256;
  static final int MAX_QUEUE = 65536;

  @Option(names = "--config", paramLabel = "FILE",
      description = "YAML file of settings: keys are these options' long names without dashes; flags and"
          + " JIPAMD_<NAME> environment variables override it (also: JIPAMD_CONFIG)")
  Path config;

  @Option(names = "--check-config", paramLabel = "FILE",
      description = "check a config file (with the environment and flags given) and exit: 0 if good, 2 if not")
  Path checkConfig;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args, System.getenv(), null, null));
  }

  /**
   * Parses, applies the config file and the environment, runs; returns the exit code. Null
   * writers mean stdout and stderr.
   */
  static int run(String[] args, Map<String, String> env, java.io.PrintWriter out, java.io.PrintWriter err) {
    CommandLine cl = commandLine();
    if (out != null) {
      cl.setOut(out);
    }
    if (err != null) {
      cl.setErr(err);
    }
    Path file = configPath(args, "--config", env.get("JIPAMD_CONFIG"));
    Path check = configPath(args, "--check-config", null);
    try {
      cl.setDefaultValueProvider(ConfigFile.load(check != null ? check : file, cl.getCommandSpec(), env));
    } catch (IpamException e) {
      cl.getErr().println("jipamd: " + oneLine(e.getMessage()));
      return 2;
    }
    return cl.execute(args);
  }

  /** The value of {@code --name FILE} or {@code --name=FILE} in args, else the fallback. */
  private static Path configPath(String[] args, String name, String fallback) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals(name) && i + 1 < args.length) {
        return Path.of(args[i + 1]);
      }
      if (args[i].startsWith(name + "=")) {
        return Path.of(args[i].substring(name.length() + 1));
      }
    }
    return fallback == null || fallback.isEmpty() ? null : Path.of(fallback);
  }

  /** The most characters of a message jipamd prints about a setting: a value may be megabytes long. */
  static final int MESSAGE_LIMIT = 400;

  /**
   * A message for one line: control characters escaped (a value holding an escape sequence or a
   * line break cannot repaint the terminal or forge a log line), at most {@link #MESSAGE_LIMIT}
   * characters and then its length.
   */
  static String oneLine(String message) {
    String line = io.jipam.core.store.Printable.line(String.valueOf(message));
    if (line.length() <= MESSAGE_LIMIT) {
      return line;
    }
    int end = Character.isHighSurrogate(line.charAt(MESSAGE_LIMIT - 1)) ? MESSAGE_LIMIT - 1 : MESSAGE_LIMIT;
    return line.substring(0, end) + "... (" + line.length() + " characters)";
  }

  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Jipamd());
    cl.setExecutionExceptionHandler((e, line, parsed) -> {
      if (e instanceof IpamException ipam) {
        line.getErr().println("jipamd: " + oneLine(ipam.getMessage()));
        return ipam.code() == ErrorCode.INVALID_CONFIG || ipam.code() == ErrorCode.UNSUPPORTED_FIELD ? 2 : 1;
      }
      throw e;
    });
    cl.setParameterExceptionHandler((e, args) -> {
      CommandLine line = e.getCommandLine();
      String from = "";
      if (e.getArgSpec() instanceof CommandLine.Model.OptionSpec option
          && line.getCommandSpec().defaultValueProvider() instanceof ConfigFile file
          && file.source(option) != null) {
        from = " (from " + file.source(option) + ")";
      }
      line.getErr().println("jipamd: " + oneLine(e.getMessage() + from));
      line.getErr().println("Try 'jipamd --help'.");
      return 2;
    });
    return cl;
  }

  @Override
  public Integer call() throws InterruptedException {
    if (spec.defaultValueProvider() instanceof ConfigFile config) {
      config.applyFlags(spec); // flags the config file or the environment sets
    }
    IpamServer.Settings settings = settings();
    if ((tlsCert == null) != (tlsKey == null)) {
      throw IpamException.invalidConfig("give --tls-cert and --tls-key together (%s is missing)",
          tlsCert == null ? "--tls-cert" : "--tls-key");
    }
    if (checkConfig != null) {
      checkStoreSettings();
      spec.commandLine().getOut().println("jipamd: config " + checkConfig + " is good: store " + store
          + (settings.socket() != null ? ", socket " + settings.socket() : "")
          + (settings.tcpHost() != null ? ", TCP " + settings.tcpHost() + ":" + settings.tcpPort() : ""));
      return 0;
    }
    checkStoreSettings();
    // read only to start: --check-config checks a config where its files may not be (a pod's secrets)
    if (settings.tcpHost() != null && settings.tlsCert() != null) {
      TlsFiles.check(settings.tlsCert(), settings.tlsKey(), settings.clientCa(), operatorCa, java.time.Clock.systemUTC());
    }
    RemoteStore.Tls remoteTls = remoteCa != null || remoteCert != null ? new RemoteStore.Tls(remoteCa, remoteCert,
        remoteKey) : null;
    if (remoteTls != null) { // checked as the listener's are, and as TlsReload checks renewed ones
      TlsFiles.checkRemote(remoteCa, remoteCert, remoteKey, java.time.Clock.systemUTC());
    }
    if (remoteTls == null && remote != null && !remote.startsWith("unix:") && !remote.startsWith("/")
        && !remoteInsecure) {
      remoteTls = new RemoteStore.Tls(null, null, null);
    }
    CallLog log = new CallLog(System.err, logCalls);
    CallerIdentity identity = CallerIdentity.withOperatorCa(operatorCa);
    String actsFor = "remote".equals(store) ? node() : null;
    StoreFactory.StoreSettings storeSettings = new StoreFactory.StoreSettings(store, dataDir, fsync, etcdConfig,
        remote, remoteAddress, remoteTls, actsFor);
    return new JipamdStart(settings, storeSettings, identity, remoteTls, log, metrics == null ? null : metricsHost(),
        metrics == null ? 0 : metricsPort(), warmUpPairs, shutdownSeconds).run();
  }

  /** The node a remote store acts for: --node-name, else the etcd store's default chain. */
  private String node() {
    return NodeName.require(nodeName != null ? nodeName : io.jipam.etcd.EtcdStoreConfig.defaultNode(),
        nodeName != null ? "--node-name" : "the default node name (JIPAM_NODE_NAME, NODE_NAME, host name)",
        ErrorCode.INVALID_CONFIG);
  }

  /** What can be checked of the store settings without opening the store. */
  private void checkStoreSettings() {
    if (nodeName != null) {
      NodeName.require(nodeName, "--node-name", ErrorCode.INVALID_CONFIG);
    }
    if (operatorCa != null && (tlsCert == null || tlsKey == null)) {
      throw IpamException.invalidConfig("--operator-ca %s needs --tls-cert and --tls-key", operatorCa);
    }
    if (!List.of("file", "host-local", "etcd", "remote", "memory").contains(store)) {
      throw IpamException.invalidConfig("store \"%s\" is not one of file, etcd, remote, memory", store);
    }
    OptionScopes.check(this, spec);
    if ("etcd".equals(store) && etcdConfig == null) {
      throw IpamException.invalidConfig("--store etcd needs --etcd-config FILE");
    }
    if ("etcd".equals(store) && !java.nio.file.Files.isReadable(etcdConfig)) {
      throw IpamException.invalidConfig("etcd-config %s is not a readable file", etcdConfig);
    }
    if ("remote".equals(store) && remote == null) {
      throw IpamException.invalidConfig("--store remote needs --remote ADDRESS");
    }
    if (remoteAddress != null && !"remote".equals(store)) {
      throw IpamException.invalidConfig("--remote-address %s is for --store remote, not %s",
          io.jipam.core.store.Printable.quote(remoteAddress), store);
    }
    if ("remote".equals(store)) {
      RemoteStore.Target target = RemoteStore.Target.parse(remote);
      if (remoteAddress != null) {
        target.withConnectTo(remoteAddress);
      }
      if (!remote.startsWith("unix:") && !remote.startsWith("/") && remoteCa == null && remoteCert == null
          && !remoteInsecure) {
        throw IpamException.invalidConfig("--remote %s is TCP: give --remote-ca (and --remote-cert/--remote-key),"
            + " or --remote-insecure", remote);
      }
    }
  }

  private String metricsHost() {
    String host = metrics.substring(0, metrics.lastIndexOf(':'));
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  private int metricsPort() {
    int colon = metrics.lastIndexOf(':');
    int port;
    try {
      port = colon <= 0 ? -1 : Integer.parseInt(metrics.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65535) {
      throw IpamException.invalidConfig("--metrics \"%s\" is not HOST:PORT with a port of 0 to 65535", metrics);
    }
    return port;
  }

  /**
   * The longest path every client can connect to: the JDK's unix sockets (the JVM plugin's daemon
   * client, jipamctl, this process's own warm-up) take at most sockaddr_un's 108 bytes less two,
   * where the kernel and Netty's epoll transport take 107; the shim refuses what the JDK would.
   */
  static final int MAX_SOCKET_PATH_BYTES = 106;

  IpamServer.Settings settings() {
    if (metrics != null) {
      metricsPort(); // checked with the other settings, so that --check-config sees a bad value
    }
    String host = null;
    int port = 0;
    if (listen != null) {
      int colon = listen.lastIndexOf(':');
      if (colon <= 0) {
        throw IpamException.invalidConfig("--listen \"%s\" is not HOST:PORT", listen);
      }
      host = listen.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      try {
        port = Integer.parseInt(listen.substring(colon + 1));
      } catch (NumberFormatException e) {
        port = -1;
      }
      if (port < 0 || port > 65535) {
        throw IpamException.invalidConfig("--listen \"%s\": port is not 0 to 65535", listen);
      }
    }
    if (!noSocket && socket.toString().isEmpty()) {
      throw IpamException.invalidConfig("--socket is empty: give a path, or --no-socket");
    }
    if (!noSocket && socket.getFileName() == null) {
      throw IpamException.invalidConfig("--socket %s names no file", io.jipam.core.store.Printable.quote(socket.toString()));
    }
    int socketBytes = noSocket ? 0 : socket.toAbsolutePath().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    if (socketBytes > MAX_SOCKET_PATH_BYTES) {
      // bound in a short directory and renamed, it would listen, and no client could reach it
      throw IpamException.invalidConfig("--socket %s is %d bytes long: a unix socket's path takes at most %d",
          io.jipam.core.store.Printable.quote(socket.toString()), socketBytes, MAX_SOCKET_PATH_BYTES);
    }
    if (dataDir != null && dataDir.toString().isEmpty()) {
      throw IpamException.invalidConfig("--data-dir is empty: give a path (an empty one is the working directory)");
    }
    if (idleSeconds < 1 || idleSeconds > 3600) {
      throw IpamException.invalidConfig("--idle-timeout %d is not 1 to 3600 seconds", idleSeconds);
    }
    if (shutdownSeconds < 0 || shutdownSeconds > 3600) {
      throw IpamException.invalidConfig("--shutdown-timeout %d is not 0 to 3600 seconds", shutdownSeconds);
    }
    if (workers < 1 || workers > MAX_WORKERS) {
      throw IpamException.invalidConfig("--workers %d is not 1 to %d", workers, MAX_WORKERS);
    }
    if (warmUpPairs < 0 || warmUpPairs > 100_000) {
      throw IpamException.invalidConfig("--warm-up %d is not 0 to 100000", warmUpPairs);
    }
    if (queue < 1 || queue > MAX_QUEUE) {
      throw IpamException.invalidConfig("--queue %d is not 1 to %d", queue, MAX_QUEUE);
    }
    return new IpamServer.Settings(noSocket ? null : socket, host, port, insecure, tlsCert, tlsKey, clientCa,
        workers, queue, 4L << 20, Duration.ofSeconds(shutdownSeconds), Duration.ofSeconds(idleSeconds), nodeName);
  }

  /** The version from the jar's manifest, or "dev". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Jipamd.class.getPackage().getImplementationVersion();
      return new String[] {"jipamd " + (v == null ? "dev" : v)};
    }
  }
}
