package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.IpAddress;
import java.nio.charset.StandardCharsets;

/**
 * Coverage-guided fuzzing (Jazzer) of the etcd store's codecs: whatever bytes a block or handle
 * key holds, decoding gives a value that encodes and decodes back to itself, or a clean {@link
 * IpamException} {@code DECODE_FAILURE}; any other exception, an {@link Error} or a hang is a
 * finding. The normal test run replays {@code
 * src/test/resources/io/jipam/etcd/EtcdCodecFuzzTestInputs/}; {@code JAZZER_FUZZ=1} fuzzes.
 */
class EtcdCodecFuzzTest {
  private static final IpAddress NET = IpAddress.parse("198.18.0.0");

  @FuzzTest(maxDuration = "30s")
  void blockDecode_anyValue_blockThatRoundTripsOrDecodeFailure(FuzzedDataProvider data) {
    int hostBits = data.consumeInt(0, 12);
    String text = data.consumeRemainingAsString();
    String key = "/jipam/v1/blocks/p/0/198.18.0.0";
    try {
      Block b = BlockCodec.decode(key, 0, NET, hostBits, text, 7);
      String encoded = BlockCodec.encode(b);
      assertEquals(encoded, BlockCodec.encode(BlockCodec.decode(key, 0, NET, hostBits, encoded, 7)),
          "a decoded block encodes and decodes back to itself");
    } catch (IpamException e) {
      assertEquals(ErrorCode.DECODE_FAILURE, e.code(), e::toString);
    }
  }

  @FuzzTest(maxDuration = "30s")
  void handleDecode_anyKeyAndValue_handleThatRoundTripsOrDecodeFailure(FuzzedDataProvider data) {
    byte[] key = data.consumeBytes(data.consumeInt(0, 200));
    byte[] value = data.consumeRemainingAsBytes();
    try {
      Handle h = HandleCodec.decode(kv(key, value.clone()));
      String encoded = HandleCodec.encode(h);
      Handle again = HandleCodec.decode(kv(key, encoded.getBytes(StandardCharsets.UTF_8)));
      assertEquals(encoded, HandleCodec.encode(again), "a decoded handle encodes and decodes back to itself");
    } catch (IpamException e) {
      assertNotEquals(ErrorCode.INTERNAL, e.code(), e::toString);
    }
  }

  private static KeyValue kv(byte[] key, byte[] value) {
    return new KeyValue(io.etcd.jetcd.api.KeyValue.newBuilder().setKey(ByteString.copyFrom(key))
        .setValue(ByteString.copyFrom(value)).setModRevision(7).build(), ByteSequence.EMPTY);
  }
}
