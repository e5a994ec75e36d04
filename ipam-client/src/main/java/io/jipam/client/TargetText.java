package io.jipam.client;

import io.jipam.client.RemoteStore.Target;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Printable;
import io.vertx.core.net.SocketAddress;

/**
 * The text of a jipamd address, read into a {@link Target}: {@code unix:/path}, an absolute path,
 * or {@code host:port} ({@code [v6]:port}); and the check of a connect address given for one.
 *
 * <p>Contract: pure functions of their arguments, safe from any thread; nothing is looked up. What
 * is refused throws {@link IpamException} {@code INVALID_CONFIG} naming the text (quoted where it
 * may hold anything): an empty address, a socket path that is empty, a host that is not a DNS
 * name or an IP address (so a lookup cannot take it for something else: a scheme, white space, a
 * newline), a port that is not 1 to 65535.
 */
final class TargetText {
  private TargetText() {}

  /** The target {@code text} names, with no TLS and the default timeout. */
  static Target parse(String text) {
    if (text == null || text.isEmpty()) {
      throw IpamException.invalidConfig("jipamd address is empty: use unix:/path or host:port");
    }
    if (text.startsWith("unix:")) {
      String path = text.substring("unix:".length());
      if (path.isEmpty()) {
        throw IpamException.invalidConfig("jipamd address \"%s\" names no socket path", text);
      }
      return new Target(SocketAddress.domainSocketAddress(path), text, null, null);
    }
    if (text.startsWith("/")) {
      return new Target(SocketAddress.domainSocketAddress(text), "unix:" + text, null, null);
    }
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw IpamException.invalidConfig("jipamd address \"%s\" is not unix:/path or host:port", text);
    }
    String host = text.substring(0, colon);
    boolean bracketed = host.startsWith("[") && host.endsWith("]");
    if (bracketed) {
      host = host.substring(1, host.length() - 1);
    }
    // a DNS name or an IPv4 address; in brackets an IPv6 address (with a zone): nothing a
    // lookup would take for something else (a scheme, white space, a newline)
    if (host.isEmpty() || !host.chars().allMatch(c -> c < 128 && (Character.isLetterOrDigit(c) || c == '.'
        || c == '-' || c == '_' || bracketed && (c == ':' || c == '%')))) {
      throw IpamException.invalidConfig("jipamd address %s: the host is not a DNS name or an IP address",
          Printable.quote(text));
    }
    String portText = text.substring(colon + 1);
    int port = portText.length() <= 5 && portText.chars().allMatch(c -> c >= '0' && c <= '9')
        ? Integer.parseInt(portText) : -1;
    if (port < 1 || port > 65535) {
      throw IpamException.invalidConfig("jipamd address \"%s\": port is not 1 to 65535", text);
    }
    return new Target(SocketAddress.inetSocketAddress(port, host), text, null, null);
  }

  /**
   * Checks that {@code ip} may be the address {@code target} connects to ({@link
   * Target#withConnectTo}): an IP address, for a target that names a host to look up.
   */
  static void checkConnectTo(Target target, String ip) {
    if (target.isUnix() || IpAddress.tryParse(target.address().host()) != null) {
      throw IpamException.invalidConfig("connect address %s given for %s, which names no host to look up",
          Printable.quote(ip), Printable.quote(target.text()));
    }
    if (IpAddress.tryParse(ip) == null) {
      throw IpamException.invalidConfig("connect address %s for %s is not an IP address",
          Printable.quote(ip), Printable.quote(target.text()));
    }
  }
}
