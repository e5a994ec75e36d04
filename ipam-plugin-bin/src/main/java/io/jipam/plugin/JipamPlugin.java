package io.jipam.plugin;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.cni.CniCommand;
import io.jipam.core.cni.CniEnvironment;
import io.jipam.core.cni.CniHandler;
import io.jipam.core.cni.CniJson;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.IpamStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Map;

/**
 * The {@code jipam} CNI plugin: one call per process. Reads CNI_* from the environment and the
 * network config from stdin, prints the result or the CNI error object on stdout, exits 0 on
 * success and 1 on error. Nothing else ever reaches stdout: diagnostics go to the log file named
 * by {@code ipam.logFile} or {@code JIPAM_LOG_FILE}, and to stderr.
 *
 * <p>Glue only: parsing and semantics live in ipam-core, storage in the store modules. Keep the
 * classes this touches few; a one-shot JVM pays for every class it loads.
 */
public final class JipamPlugin {
  private JipamPlugin() {}

  /** How a call reads the naming variables (container id, interface) of its environment map. */
  enum Names {
    /** As the map has them (a map a test made). */
    AS_GIVEN,
    /**
     * Read again as bytes ({@link ExactEnvironment}): the map is the JVM's decoding of this
     * process's environment, which may have been lossy.
     */
    EXACT
  }

  public static void main(String[] args) {
    // --version answers as VERSION does, whatever the environment (the shim answers it the same)
    int exit = args.length > 0 && args[0].equals("--version")
        ? deliver(CniJson.versionInfo(), System.out, PluginLog.fromEnvironment(System.getenv()), "--version", 0)
        : run(System.getenv(), Names.EXACT, System.in, System.out);
    System.err.flush();
    // halt, not exit: the store is closed and nothing registers shutdown hooks, and Runtime.exit
    // starts the System.Logger machinery (about 15 ms) to log the exit
    Runtime.getRuntime().halt(exit);
  }

  /** Runs one call with {@code env} as given; returns the exit code. Never throws. */
  static int run(Map<String, String> env, InputStream stdin, PrintStream stdout) {
    return run(env, Names.AS_GIVEN, stdin, stdout);
  }

  /**
   * Runs one call; returns the exit code. Never throws. {@code names} says how to read the naming
   * variables: {@link Names#EXACT} when {@code env} is this process's environment.
   *
   * <p>The exit code is 0 only when the whole answer reached stdout: a result that could not be
   * written (stdout closed, a full device) is a failure the runtime must see. The addresses an
   * ADD allocated then stay with the attachment, as for any failed ADD: the runtime's DEL
   * releases them, a repeated ADD returns them.
   */
  static int run(Map<String, String> env, Names names, InputStream stdin, PrintStream stdout) {
    String versionText = null;
    PluginLog log = PluginLog.fromEnvironment(env);
    String command = env.get("CNI_COMMAND") == null ? "(no CNI_COMMAND)" : env.get("CNI_COMMAND");
    try {
      Map<String, String> exactEnv = names == Names.EXACT ? ExactEnvironment.of(env) : env;
      CniEnvironment cni = CniEnvironment.from(exactEnv);
      if (cni.command() == CniCommand.VERSION) {
        return deliver(CniJson.versionInfo(), stdout, log, command, 0);
      }
      byte[] input = readConfig(stdin);
      Object parsed = JsonReader.parse(input);
      versionText = NetworkConfig.versionText(parsed);
      DaemonClient.Target daemon = DaemonClient.target(parsed);
      if (daemon != null) {
        DaemonClient.Reply reply = DaemonClient.call(daemon, exactEnv, input);
        log.info(command + " via jipamd " + daemon.socket() + " exit " + reply.exit());
        return deliver(reply.output(), stdout, log, command, reply.exit());
      }
      NetworkConfig config = NetworkConfig.from(parsed);
      log = log.withFile(config.ipam().logFile());
      CniHandler.checkVersion(cni.command(), config.cniVersion());
      byte[] output;
      java.util.List<io.jipam.core.store.AllocationOrigin> origins = new java.util.ArrayList<>(2);
      try (IpamStore store = StoreOpener.open(config.ipam())) {
        output = CniHandler.handle(cni, config, store, origins);
      }
      int exit = deliver(output, stdout, log, command, 0);
      if (exit == 0) {
        log.info(command + " " + describe(cni) + " network=" + config.name() + " ok"
            + (origins.isEmpty() ? "" : " origin=" + originText(origins)));
      }
      return exit;
    } catch (IpamException e) {
      log.error(command + " failed: code " + e.code().cniCode() + ": " + e.getMessage(), e);
      return deliver(CniJson.error(versionText, e), stdout, log, command, 1);
    } catch (Throwable t) {
      IpamException e = new IpamException(ErrorCode.INTERNAL, "internal error: " + t, t);
      log.error(command + " failed unexpectedly", t);
      return deliver(CniJson.error(versionText, e), stdout, log, command, 1);
    }
  }

  /** Writes the answer and flushes; {@code exit}, or 1 when stdout did not take all of it. */
  private static int deliver(byte[] answer, PrintStream stdout, PluginLog log, String command, int exit) {
    stdout.write(answer, 0, answer.length);
    stdout.flush();
    if (stdout.checkError()) {
      log.error(command + ": the answer could not be written to stdout (closed or full): exit 1", null);
      return 1;
    }
    return exit;
  }

  /** Why the ADD got each address, per range set: {@code FREE}, {@code STICKY,FREE}, ... */
  private static String originText(java.util.List<io.jipam.core.store.AllocationOrigin> origins) {
    StringBuilder b = new StringBuilder();
    for (io.jipam.core.store.AllocationOrigin o : origins) {
      b.append(b.length() == 0 ? "" : ",").append(o.name());
    }
    return b.toString();
  }

  private static String describe(CniEnvironment cni) {
    return cni.containerId() == null ? "-" : cni.attachment().toString();
  }

  /** The most stdin may hold: {@link NetworkConfig#MAX_BYTES}, as jipamd's CNI endpoint. */
  static final int MAX_CONFIG_BYTES = NetworkConfig.MAX_BYTES;

  /** Stdin, at most {@link #MAX_CONFIG_BYTES}; reading stops at the first byte beyond. */
  private static byte[] readConfig(InputStream in) {
    byte[] bytes;
    try {
      bytes = in.readNBytes(MAX_CONFIG_BYTES + 1);
    } catch (IOException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "cannot read stdin: " + e.getMessage(), e);
    }
    NetworkConfig.checkSize(bytes.length);
    return bytes;
  }
}
