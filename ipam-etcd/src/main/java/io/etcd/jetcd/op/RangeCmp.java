package io.etcd.jetcd.op;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.api.Compare;
import io.etcd.jetcd.options.OptionsUtil;
import io.etcd.jetcd.support.Util;

/**
 * A compare over every key under a prefix: etcd's {@code Compare} with a {@code range_end} (etcd
 * 3.3 and later), which holds when it holds for each key in the range and, for a version, create
 * or mod revision, against 0 when the range is empty. jetcd 0.8.6's {@link Cmp} has no range end;
 * this subclass adds it where jetcd turns a compare into its request ({@code toCompare}, package
 * private, hence this package). It takes effect only when loaded by jetcd's own class loader (the
 * same runtime package), which {@link #check} verifies. Immutable.
 */
public final class RangeCmp extends Cmp {
  private final ByteSequence rangeEnd;

  /** Compares every key under {@code prefix} with {@code target}. */
  public RangeCmp(ByteSequence prefix, Op op, CmpTarget<?> target) {
    super(prefix, op, target);
    this.rangeEnd = OptionsUtil.prefixEndOf(prefix);
  }

  @Override
  Compare toCompare(ByteSequence namespace) {
    return super.toCompare(namespace).toBuilder()
        .setRangeEnd(Util.prefixNamespaceToRangeEnd(ByteString.copyFrom(rangeEnd.getBytes()), namespace))
        .build();
  }

  /**
   * Whether a range compare reaches etcd as one: false when this class cannot take part in jetcd's
   * request building (loaded apart from jetcd), where its compare would test the prefix as a single
   * key.
   */
  public static boolean check() {
    try {
      Cmp probe = new RangeCmp(ByteSequence.from(new byte[] {'a'}), Op.EQUAL, CmpTarget.version(0));
      return !probe.toCompare(ByteSequence.EMPTY).getRangeEnd().isEmpty();
    } catch (IllegalAccessError e) {
      return false;
    }
  }
}
