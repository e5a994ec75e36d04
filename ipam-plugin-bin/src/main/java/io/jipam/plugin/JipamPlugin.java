package io.jipam.plugin;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.cni.CniCommand;
import io.jipam.core.cni.CniEnvironment;
import io.jipam.core.cni.CniHandler;
import io.jipam.core.cni.CniJson;
import io.jipam.core.cni.JsonTree;
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

  public static void main(String[] args) {
    int exit = run(System.getenv(), System.in, System.out);
    System.out.flush();
    System.err.flush();
    // halt, not exit: the store is closed and nothing registers shutdown hooks, and Runtime.exit
    // starts the System.Logger machinery (about 15 ms) to log the exit
    Runtime.getRuntime().halt(exit);
  }

  /** Runs one call; returns the exit code. Never throws. */
  static int run(Map<String, String> env, InputStream stdin, PrintStream stdout) {
    String versionText = null;
    PluginLog log = PluginLog.fromEnvironment(env);
    CniCommand command = null;
    try {
      CniEnvironment cni = CniEnvironment.from(env);
      command = cni.command();
      if (command == CniCommand.VERSION) {
        stdout.write(CniJson.versionInfo());
        return 0;
      }
      byte[] input = readAll(stdin);
      Object parsed = JsonTree.parse(input);
      versionText = NetworkConfig.versionText(parsed);
      DaemonClient.Target daemon = DaemonClient.target(parsed);
      if (daemon != null) {
        DaemonClient.Reply reply = DaemonClient.call(daemon, env, input);
        stdout.write(reply.output());
        log.info(command + " via jipamd " + daemon.socket() + " exit " + reply.exit());
        return reply.exit();
      }
      NetworkConfig config = NetworkConfig.from(parsed);
      log = log.withFile(config.ipam().logFile());
      CniHandler.checkVersion(command, config.cniVersion());
      byte[] output;
      try (IpamStore store = StoreOpener.open(config.ipam())) {
        output = CniHandler.handle(cni, config, store);
      }
      stdout.write(output);
      log.info(command + " " + cni.containerId() + "/" + cni.ifname() + " network=" + config.name() + " ok");
      return 0;
    } catch (IpamException e) {
      log.error(command + " failed: code " + e.code().cniCode() + ": " + e.getMessage(), e);
      byte[] error = CniJson.error(versionText, e);
      stdout.write(error, 0, error.length);
      return 1;
    } catch (Throwable t) {
      IpamException e = new IpamException(ErrorCode.INTERNAL, "internal error: " + t, t);
      log.error(command + " failed unexpectedly", t);
      byte[] error = CniJson.error(versionText, e);
      stdout.write(error, 0, error.length);
      return 1;
    }
  }

  private static byte[] readAll(InputStream in) {
    try {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "cannot read stdin: " + e.getMessage(), e);
    }
  }
}
