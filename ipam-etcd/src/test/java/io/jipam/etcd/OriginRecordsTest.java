package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The origin in the handle and the address record ({@link HandleCodec}, {@link AddressCodec}):
 * written with each allocation, read back, and absent from records written before jipam kept it.
 */
class OriginRecordsTest {
  private static final IpAddress A = IpAddress.parse("198.18.0.5");
  private static final IpAddress B = IpAddress.parse("fd00:1::5");
  private static final Attachment ATT = new Attachment("c1", "eth0");
  private static final PodRef POD = new PodRef("db", "web 0");

  private static KeyValue kv(String value) {
    return new KeyValue(io.etcd.jetcd.api.KeyValue.newBuilder().setKey(ByteString.copyFromUtf8("k"))
        .setValue(ByteString.copyFromUtf8(value)).setModRevision(7).build(), ByteSequence.EMPTY);
  }

  @Test
  void addressCodec_everyRecordedOrigin_roundTrips() {
    for (AllocationOrigin o : Arrays.stream(AllocationOrigin.values()).filter(o -> o != AllocationOrigin.EXISTING).toList()) {
      Allocation a = new Allocation(A, 0, ATT, POD, o);
      String encoded = AddressCodec.encode(a);
      assertEquals("0 c1 eth0 db web%200 " + o.label() + "\n", encoded);
      assertEquals(a, AddressCodec.decode("k", A, kv(encoded)), o.label());
    }
  }

  @Test
  void addressCodec_recordWithoutOrigin_readsAsNotRecordedAndIsWrittenSo() {
    String old = "1 c1 eth0 db web%200\n";
    Allocation a = AddressCodec.decode("k", B, kv(old));
    assertEquals(new Allocation(B, 1, ATT, POD), a);
    assertEquals(null, a.origin());
    assertEquals(old, AddressCodec.encode(a), "an allocation without origin is written as before");
  }

  @Test
  void addressCodec_unknownOriginOrLaterFields_readWithoutFailing() {
    record Case(String value, AllocationOrigin origin) {}
    for (Case c : List.of(new Case("0 c1 eth0 db web%200 sticky later-field\n", AllocationOrigin.STICKY),
        new Case("0 c1 eth0 db web%200 chosen-by-a-later-jipam\n", null),
        new Case("0 c1 eth0 db web%200 existing\n", null))) {
      assertEquals(new Allocation(A, 0, ATT, POD, c.origin()), AddressCodec.decode("k", A, kv(c.value())), c.value());
    }
    IpamException e = assertThrows(IpamException.class, () -> AddressCodec.decode("k", A, kv("0 c1 eth0 db\n")));
    assertEquals(ErrorCode.DECODE_FAILURE, e.code());
  }

  @Test
  void handleCodec_originsPerAddress_roundTrip() {
    Handle h = new Handle("node-1", POD, List.of(new Allocation(A, 0, ATT, POD, AllocationOrigin.RESERVED),
        new Allocation(B, 1, ATT, POD, AllocationOrigin.COOLED)), 7);
    String encoded = HandleCodec.encode(h);
    assertEquals("jipam-handle 1\nnode node-1\npod db web%200\n0 198.18.0.5 reserved\n1 fd00:1::5 cooled\n", encoded);
    assertEquals(h, HandleCodec.decode("k", ATT, kv(encoded)));
  }

  @Test
  void handleCodec_handleWithoutOrigins_readsAsNotRecordedAndIsWrittenSo() {
    String old = "jipam-handle 1\nnode node-1\npod db web%200\n0 198.18.0.5\n1 fd00:1::5\n";
    Handle h = HandleCodec.decode("k", ATT, kv(old));
    assertEquals(List.of(new Allocation(A, 0, ATT, POD), new Allocation(B, 1, ATT, POD)), h.allocations());
    assertEquals(old, HandleCodec.encode(h));
  }
}
