package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import java.util.Map;

/**
 * The CNI_* environment of one plugin call, checked for what its command needs: ADD and CHECK
 * need CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and CNI_PATH; DEL the same but CNI_NETNS (runtimes
 * call DEL after the namespace is gone); GC and STATUS only CNI_PATH; VERSION nothing.
 *
 * <p>CNI_CONTAINERID and CNI_IFNAME are checked here, each failure code 4 naming the variable:
 * the container ID by the spec's rule, the interface name by the kernel's rules on its bytes
 * and as UTF-8 (see {@link InterfaceName}; values are strings decoded as it decodes bytes, which
 * the plugin ensures by reading them from {@code /proc/self/environ}).
 *
 * @param netns may be null (DEL, GC, STATUS, VERSION)
 */
public record CniEnvironment(CniCommand command, String containerId, String netns, String ifname,
    CniArgs args, String path) {

  /**
   * Reads and checks the environment.
   *
   * @throws IpamException {@code INVALID_ENVIRONMENT} naming the missing or malformed variable
   */
  public static CniEnvironment from(Map<String, String> env) {
    CniCommand command = CniCommand.parse(env.get("CNI_COMMAND"));
    if (command == CniCommand.VERSION) {
      return new CniEnvironment(command, null, null, null, CniArgs.NONE, null);
    }
    boolean perAttachment = command == CniCommand.ADD || command == CniCommand.DEL
        || command == CniCommand.CHECK;
    String containerId = perAttachment ? required(env, "CNI_CONTAINERID", command) : null;
    String netns = command == CniCommand.DEL ? env.get("CNI_NETNS")
        : perAttachment ? required(env, "CNI_NETNS", command) : null;
    String ifname = perAttachment ? required(env, "CNI_IFNAME", command) : null;
    if (perAttachment) {
      checkContainerId(containerId);
      checkIfname(ifname);
    }
    String path = required(env, "CNI_PATH", command);
    CniArgs args = perAttachment ? CniArgs.parse(env.get("CNI_ARGS")) : CniArgs.NONE;
    return new CniEnvironment(command, containerId, netns, ifname, args, path);
  }

  private static String required(Map<String, String> env, String name, CniCommand command) {
    String value = env.get(name);
    if (value == null || value.isEmpty()) {
      throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, name + " is not set (required for " + command + ")");
    }
    return value;
  }

  /**
   * CNI_CONTAINERID as the spec defines it: a letter or digit, then letters, digits, {@code _ . -}.
   */
  private static void checkContainerId(String id) {
    if (id.length() > 1024 || !Attachment.isSafeName(id)) {
      throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI_CONTAINERID \""
          + InterfaceName.quote(id) + "\" is not a valid container ID: it must start with a letter or"
          + " digit followed by letters, digits, '_', '.' or '-' (at most 1024)");
    }
  }

  /**
   * CNI_IFNAME: a name the kernel accepts (checked on its bytes), and UTF-8, so that every store
   * keeps it exactly; a name that is not UTF-8 is refused rather than merged with another.
   */
  private static void checkIfname(String ifname) {
    String problem = InterfaceName.isMark(ifname) ? "it is not a byte string" : InterfaceName.problem(ifname);
    if (problem == null && !InterfaceName.isUnicode(ifname)) {
      problem = "it is not valid UTF-8, and jipam keeps interface names exactly or not at all";
    }
    if (problem != null) {
      throw new IpamException(ErrorCode.INVALID_ENVIRONMENT, "CNI_IFNAME \"" + InterfaceName.quote(ifname)
          + "\" is not a valid interface name: " + problem);
    }
  }

  /** The attachment this call is about (ADD, DEL, CHECK). */
  public Attachment attachment() {
    return new Attachment(containerId, ifname);
  }
}
