package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Claims as etcd holds them: claim lines of a block record, and the hold and reservation indexes. */
class ClaimRecordsTest {
  private static final IpAddress NET = IpAddress.parse("198.18.0.0");
  private static final String KEY = "/jipam/v2/blocks/p/0/198.18.0.0_26";
  private static final Instant UNTIL = Instant.parse("2026-12-05T00:00:00.123Z");

  @Test
  void encode_blockWithoutClaims_isTheRecordOfBefore() {
    Block b = new Block(KEY, 0, NET, 6);
    b.owner = "node-a";
    b.cursor = 3;
    b.used.set(3);
    assertEquals("jipam-block 2\nowner node-a\ncursor 3\nused 1\nbits CA\n", BlockCodec.encode(b));
  }

  @Test
  void decode_blockWithEveryKindOfClaim_roundTrips() {
    Block b = new Block(KEY, 0, NET, 6);
    b.used.set(7);
    b.claims.put(5, Claim.hold(NET.plus(5), new PodRef("db", "web-0"), UNTIL, new Attachment("c1", "eth0")));
    b.claims.put(7, Claim.reservation(NET.plus(7), new PodRef("team", "")));
    b.claims.put(9, Claim.cooling(NET.plus(9), PodRef.UNKNOWN, UNTIL, null));
    String text = BlockCodec.encode(b);
    Block again = BlockCodec.decode(KEY, 0, NET, 6, text, 1);
    assertEquals(b.claims, again.claims);
    assertEquals(text, BlockCodec.encode(again));
  }

  @Test
  void decode_badClaimLines_isDecodeFailure() {
    String head = "jipam-block 2\nowner ~\ncursor -1\nused 0\nbits \n";
    for (String line : List.of("claim 64 h 1 db web-0 ~ ~", "claim 1 x 1 db web-0 ~ ~", "claim 1 r 5 db web-0 ~ ~",
        "claim 1 h 5 ~ ~ ~ ~", "claim 1 h 5 db", "claim -1 c 5 ~ ~ ~ ~")) {
      IpamException e = assertThrows(IpamException.class, () -> BlockCodec.decode(KEY, 0, NET, 6, head + line + "\n", 1),
          line);
      assertEquals(ErrorCode.DECODE_FAILURE, e.code(), line);
    }
  }

  @Test
  void indexes_roundTrip_andRefuseOtherRecords() {
    List<ClaimIndex.Entry> holds = List.of(new ClaimIndex.Entry(0, NET.plus(5), UNTIL, null),
        new ClaimIndex.Entry(1, IpAddress.parse("fd00::5"), UNTIL, null));
    assertEquals(holds, ClaimIndex.holds("k", kv(ClaimIndex.encodeHolds(holds))).entries());
    List<ClaimIndex.Entry> reserved = List.of(new ClaimIndex.Entry(0, NET.plus(5), null, new PodRef("ns", "p")),
        new ClaimIndex.Entry(0, NET.plus(6), null, new PodRef("ns", "")));
    assertEquals(reserved, ClaimIndex.reservations("k", kv(ClaimIndex.encodeReservations(reserved))).entries());
    assertEquals(ClaimIndex.Read.ABSENT, ClaimIndex.holds("k", null));
    IpamException e = assertThrows(IpamException.class, () -> ClaimIndex.holds("k", kv(ClaimIndex.encodeReservations(reserved))));
    assertEquals(ErrorCode.DECODE_FAILURE, e.code());
    IpamException noNamespace = assertThrows(IpamException.class,
        () -> ClaimIndex.reservations("k", kv("jipam-reservations 1\n0 198.18.0.5 ~ p\n")));
    assertEquals(ErrorCode.DECODE_FAILURE, noNamespace.code());
  }

  private static KeyValue kv(String value) {
    return new KeyValue(io.etcd.jetcd.api.KeyValue.newBuilder().setKey(ByteString.copyFromUtf8("k"))
        .setValue(ByteString.copyFrom(value.getBytes(StandardCharsets.UTF_8))).setModRevision(7).build(),
        ByteSequence.EMPTY);
  }
}
