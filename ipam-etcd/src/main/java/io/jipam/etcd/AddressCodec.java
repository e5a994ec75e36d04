package io.jipam.etcd;

import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;

/**
 * Address records as etcd holds them: who holds one address.
 *
 * <table>
 *   <caption>Address record</caption>
 *   <tr><th>Key</th><th>Value</th></tr>
 *   <tr><td>{@code <p>/v2/addresses/<pool>/<hex address>} ({@link Keys#address})</td>
 *       <td>one line: {@code <set> <containerID> <ifname> <pod ns> <pod name> <origin>} (free-form
 *       fields percent-encoded, {@code ~} for empty; the origin an {@link AllocationOrigin#label()},
 *       absent when not recorded, as in records written before jipam kept it)</td></tr>
 * </table>
 *
 * <p>Readers take five fields or more and ignore those after the origin, so that a later field
 * does not make this version fail; an origin label it does not know reads as not recorded.
 */
final class AddressCodec {
  private AddressCodec() {}

  static String encode(Allocation a) {
    return a.rangeSetIndex() + " " + a.attachment().containerId() + " " + FieldEscaping.esc(a.attachment().ifname())
        + " " + FieldEscaping.esc(a.pod().namespace()) + " " + FieldEscaping.esc(a.pod().name())
        + (a.origin() == null ? "" : " " + a.origin().label()) + "\n";
  }

  /** A recorded origin label; null for one this version does not know (or {@code existing}, never stored). */
  static AllocationOrigin origin(String label) {
    return AllocationOrigin.ofRecordedLabel(label);
  }

  static Allocation decode(String key, IpAddress address, KeyValue kv) {
    String text = EtcdClient.text(kv.getValue());
    try {
      String[] f = text.strip().split(" ");
      if (f.length < 5) {
        throw new IllegalArgumentException("not a jipam address record: " + text);
      }
      return new Allocation(address, Integer.parseInt(f[0]), new Attachment(f[1], FieldEscaping.unesc(f[2])),
          new PodRef(FieldEscaping.unesc(f[3]), FieldEscaping.unesc(f[4])), f.length > 5 ? origin(f[5]) : null);
    } catch (RuntimeException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "etcd: cannot read address record " + key + ": "
          + e.getMessage(), e);
    }
  }
}
