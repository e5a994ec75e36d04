package io.jipam.hostlocal;

import io.jipam.core.IpamException;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import java.nio.charset.StandardCharsets;

/**
 * What an address file of a pool's directory says ({@link PoolDir} has the layout): its holder
 * written as host-local writes it ({@code CONTAINERID\r\nIFNAME}) and read back from either of
 * host-local's formats, and the holders that are no attachment (an old file's missing interface
 * name, unreadable content, an entry that is not a file, jipam's claim marker).
 *
 * <p>Contract: pure functions of bytes; thread-safe; no file is touched here. Reading is exact:
 * two contents that name different holders never read as one, and content that names none reads
 * as {@link #UNREADABLE}, never as an error.
 */
final class AddressFileText {
  /**
   * ifname of an allocation read from an old-format file holding only the container ID: a mark
   * (see {@link InterfaceName}), so no interface (not even one named {@code *}) is taken for it.
   */
  static final String LEGACY_IFNAME = "\uDC2A";
  /** Holder of an address file whose content is not a valid container ID and ifname (a mark). */
  static final Attachment UNREADABLE = new Attachment("0-unreadable-address-file", "\uDC3F");
  /**
   * Holder of an entry named like an address that is not a regular file (a directory, a FIFO):
   * the address is not free, and nothing of jipam's ever deletes the entry.
   */
  static final Attachment NOT_A_FILE = new Attachment("0-not-a-regular-file", "\uDC21");
  /**
   * Holder of a claim marker: the address file of a held, reserved or cooling address that no
   * attachment holds. Its content ({@link #CLAIM_MARK}) is no container's {@code ID\r\nIFNAME}
   * (an interface name cannot hold '/'), so host-local neither hands the address out (the file
   * exists) nor deletes it (its DEL by container ID never matches).
   */
  static final Attachment CLAIMED = new Attachment("0-jipam-claim", "\uDC23");
  static final byte[] CLAIM_MARK = "jipam-claim\r\n/".getBytes(StandardCharsets.US_ASCII);

  private static final byte[] LINE_BREAK = {'\r', '\n'};

  private AddressFileText() {}

  /** The content of the address file {@code holder} holds: {@code CONTAINERID\r\nIFNAME}. */
  static byte[] content(Attachment holder) {
    byte[] id = holder.containerId().getBytes(StandardCharsets.UTF_8);
    byte[] ifname = InterfaceName.encode(holder.ifname());
    byte[] out = new byte[id.length + 2 + ifname.length];
    System.arraycopy(id, 0, out, 0, id.length);
    System.arraycopy(LINE_BREAK, 0, out, id.length, 2);
    System.arraycopy(ifname, 0, out, id.length + 2, ifname.length);
    return out;
  }

  /**
   * The holder an address file's bytes name, exactly: white space bytes trimmed at both ends (as
   * host-local's TrimSpace; no valid name starts or ends with one), the container ID before
   * {@code \r\n}, the interface name after it decoded byte for byte (see {@link InterfaceName}),
   * so that names that differ in any byte are different holders.
   */
  static Attachment parseHolder(byte[] bytes) {
    if (java.util.Arrays.equals(bytes, CLAIM_MARK)) {
      return CLAIMED;
    }
    int from = 0;
    int to = bytes.length;
    while (from < to && InterfaceName.isKernelSpace(bytes[from]) && bytes[from] != (byte) 0xA0) {
      from++;
    }
    while (to > from && InterfaceName.isKernelSpace(bytes[to - 1]) && bytes[to - 1] != (byte) 0xA0) {
      to--;
    }
    int br = -1;
    for (int i = from; i + 1 < to; i++) {
      if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
        br = i;
        break;
      }
    }
    int idEnd = br < 0 ? to : br;
    for (int i = from; i < idEnd; i++) {
      if (bytes[i] < 0x21) { // negative: not ASCII; a container ID is ASCII
        return UNREADABLE;
      }
    }
    String id = new String(bytes, from, idEnd - from, StandardCharsets.ISO_8859_1);
    String ifname = br < 0 ? LEGACY_IFNAME : InterfaceName.decode(bytes, br + 2, to);
    try {
      return new Attachment(id, ifname);
    } catch (IpamException e) {
      return UNREADABLE;
    }
  }
}
