package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;

/**
 * Address records as etcd holds them: who holds one address.
 *
 * <table>
 *   <caption>Address record</caption>
 *   <tr><th>Key</th><th>Value</th></tr>
 *   <tr><td>{@code <p>/v2/addresses/<pool>/<hex address>} ({@link Keys#address})</td>
 *       <td>one line: {@code <set> <containerID> <ifname> <pod ns> <pod name>} (free-form fields
 *       percent-encoded, {@code ~} for empty)</td></tr>
 * </table>
 */
final class AddressCodec {
  private AddressCodec() {}

  static String encode(Allocation a) {
    return a.rangeSetIndex() + " " + a.attachment().containerId() + " " + FieldEscaping.esc(a.attachment().ifname())
        + " " + FieldEscaping.esc(a.pod().namespace()) + " " + FieldEscaping.esc(a.pod().name()) + "\n";
  }

  static Allocation decode(String key, IpAddress address, KeyValue kv) {
    String text = EtcdClient.text(kv.getValue());
    try {
      String[] f = text.strip().split(" ");
      if (f.length != 5) {
        throw new IllegalArgumentException("not a jipam address record: " + text);
      }
      return new Allocation(address, Integer.parseInt(f[0]), new Attachment(f[1], FieldEscaping.unesc(f[2])),
          new PodRef(FieldEscaping.unesc(f[3]), FieldEscaping.unesc(f[4])));
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: cannot read address record " + key + ": "
          + e.getMessage(), e);
    }
  }
}
