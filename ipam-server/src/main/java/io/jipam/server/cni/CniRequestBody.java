package io.jipam.server.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.Printable;
import java.util.HashMap;
import java.util.Map;

/**
 * The body of a CNI request on jipamd's socket, read: its {@code CNI_*} lines (the environment)
 * and, after the empty line, the network config as the plugin read it from stdin ({@link
 * CniEndpoint} gives the protocol).
 *
 * <p>Contract: {@link #decode} is a pure function of the bytes, safe from any thread; it refuses
 * (with the {@link IpamException} the plugin would give) a body with no empty line, an environment
 * over {@link CniEndpoint#MAX_ENVIRONMENT} bytes, a config over {@link NetworkConfig#MAX_BYTES}, a
 * line that is not {@code CNI_NAME=value}, an escape other than {@code \\} and {@code \n}, and a
 * variable given twice. The environment's bytes are decoded as the plugin decodes the naming
 * variables ({@link InterfaceName#decode}, lossless), so two different requests never decode to
 * the same variables.
 *
 * @param environment the CNI_* variables, by name
 * @param stdin the network config's bytes, as sent
 */
record CniRequestBody(Map<String, String> environment, byte[] stdin) {

  /** Reads {@code body}; see the class's contract for what is refused. */
  static CniRequestBody decode(byte[] body) {
    int split = headerEnd(body);
    if (split > CniEndpoint.MAX_ENVIRONMENT) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "CNI request's environment of " + split
          + " bytes is over the limit of " + CniEndpoint.MAX_ENVIRONMENT);
    }
    Map<String, String> env = environment(InterfaceName.decode(body, 0, split));
    int from = split + 2 > body.length ? body.length : split + 2;
    NetworkConfig.checkSize(body.length - from);
    return new CniRequestBody(env, java.util.Arrays.copyOfRange(body, from, body.length));
  }

  /** Index of the empty line ending the environment: the first "\n\n", or an error. */
  private static int headerEnd(byte[] body) {
    for (int i = 0; i + 1 < body.length; i++) {
      if (body[i] == '\n' && body[i + 1] == '\n') {
        return i;
      }
    }
    throw new IpamException(ErrorCode.DECODE_FAILURE, "CNI request has no empty line after its environment");
  }

  /**
   * The CNI_* variables of the request's lines. Each line is one variable, given once; in a value
   * only {@code \\} and {@code \n} are escapes (as both clients write them), so two different
   * requests never decode to the same variables.
   *
   * @throws IpamException DECODE_FAILURE for a line that is not {@code CNI_NAME=value} or holds
   *     another escape; INVALID_ENVIRONMENT for a variable given twice
   */
  static Map<String, String> environment(String text) {
    Map<String, String> env = new HashMap<>();
    if (text.isEmpty()) {
      return env;
    }
    for (String line : text.split("\n", -1)) {
      int eq = line.indexOf('=');
      if (eq <= 0 || !line.startsWith("CNI_")) {
        throw new IpamException(ErrorCode.DECODE_FAILURE, "CNI request line " + Printable.quote(line)
            + " is not CNI_NAME=value");
      }
      String name = line.substring(0, eq);
      if (env.put(name, unescape(line, eq + 1)) != null) {
        throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI request sets " + Printable.quote(name)
            + " twice; a variable is given once");
      }
    }
    return env;
  }

  private static String unescape(String line, int from) {
    if (line.indexOf('\\', from) < 0) {
      return line.substring(from);
    }
    StringBuilder out = new StringBuilder(line.length() - from);
    for (int i = from; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c != '\\') {
        out.append(c);
        continue;
      }
      char next = i + 1 < line.length() ? line.charAt(++i) : 0;
      if (next == '\\') {
        out.append('\\');
      } else if (next == 'n') {
        out.append('\n');
      } else {
        throw new IpamException(ErrorCode.DECODE_FAILURE, "CNI request line " + Printable.quote(line)
            + " has an escape other than \\\\ and \\n");
      }
    }
    return out.toString();
  }
}
