package io.jipam.core.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AddressBitmapTest {
  static final long NOT_FOUND = AddressBitmap.NOT_FOUND;
  static final long MAX = -2L; // 2^64 - 2, the greatest lastOffset (an IPv6 /64 range)

  // ================================================================ reference model

  /** Offsets set one by one, plus reserved inclusive intervals; all unsigned. */
  static final class Model {
    final long lastOffset;
    final TreeSet<Long> set = new TreeSet<>(Long::compareUnsigned);
    final List<long[]> ranges = new ArrayList<>();

    Model(long lastOffset) {
      this.lastOffset = lastOffset;
    }

    boolean inRange(long offset) {
      for (long[] r : ranges) {
        if (Long.compareUnsigned(offset, r[0]) >= 0 && Long.compareUnsigned(offset, r[1]) <= 0) {
          return true;
        }
      }
      return false;
    }

    boolean get(long offset) {
      return set.contains(offset) || inRange(offset);
    }

    /** The least clear offset in [from, lastOffset], or lastOffset + 1 standing for "none". */
    long nextClear(long from) {
      long candidate = from;
      boolean moved = true;
      while (moved && Long.compareUnsigned(candidate, lastOffset) <= 0) {
        moved = false;
        for (long x : set.tailSet(candidate, true)) {
          if (x != candidate) {
            break;
          }
          candidate++;
          moved = true;
          if (candidate == 0) {
            return lastOffset + 1; // wrapped past 2^64 - 1
          }
        }
        for (long[] r : ranges) {
          if (Long.compareUnsigned(candidate, r[0]) >= 0 && Long.compareUnsigned(candidate, r[1]) <= 0) {
            candidate = r[1] + 1;
            moved = true;
            if (candidate == 0) {
              return lastOffset + 1;
            }
          }
        }
      }
      return Long.compareUnsigned(candidate, lastOffset) <= 0 ? candidate : lastOffset + 1;
    }
  }

  /** The bitmap's answer with anything past lastOffset (or NOT_FOUND) folded to lastOffset + 1. */
  static long bounded(long result, long lastOffset) {
    return result == NOT_FOUND || Long.compareUnsigned(result, lastOffset) > 0 ? lastOffset + 1 : result;
  }

  // ================================================================ operations

  sealed interface Op permits SetOp, ClearOp, NextOp, GetOp, RangeOp, SetRun, ClearRun {}

  record SetOp(long offset) implements Op {}

  record ClearOp(long offset) implements Op {}

  record NextOp(long from) implements Op {}

  record GetOp(long offset) implements Op {}

  record RangeOp(long from, long to) implements Op {}

  /** set() on count consecutive offsets: fills whole words and bottom nodes. */
  record SetRun(long from, int count) implements Op {}

  record ClearRun(long from, int count) implements Op {}

  record Scenario(long lastOffset, List<RangeOp> reserved, List<Op> ops) {}

  /** Offsets near interesting places of the space: node boundaries, the ends, the sign bit. */
  static Arbitrary<Long> offsets(long lastOffset) {
    if (Long.compareUnsigned(lastOffset, 20_000) <= 0) {
      return Arbitraries.longs().between(0, lastOffset);
    }
    List<Long> spots = new ArrayList<>(List.of(0L, 4096L, 1L << 18, 1L << 24, 1L << 30, 1L << 36,
        1L << 42, 1L << 48, 1L << 54, 1L << 60, Long.MIN_VALUE, lastOffset, lastOffset & ~4095L,
        (lastOffset >>> 1) & ~4095L));
    spots.removeIf(s -> Long.compareUnsigned(s, lastOffset) > 0);
    Arbitrary<Long> near = Combinators.combine(Arbitraries.of(spots), Arbitraries.longs().between(-150, 150))
        .as((spot, delta) -> clamp(spot + delta, spot, delta, lastOffset));
    Arbitrary<Long> anywhere = Arbitraries.longs().map(v -> Long.remainderUnsigned(v, lastOffset + 1));
    return Arbitraries.oneOf(List.of(near, near, near, near, near, near, anywhere));
  }

  static long clamp(long value, long spot, long delta, long lastOffset) {
    if (delta < 0 && Long.compareUnsigned(value, spot) > 0) {
      return 0; // below 0
    }
    if (delta > 0 && (Long.compareUnsigned(value, spot) < 0 || Long.compareUnsigned(value, lastOffset) > 0)) {
      return lastOffset;
    }
    return value;
  }

  static Arbitrary<RangeOp> rangeOps(long lastOffset) {
    Arbitrary<Long> length = Arbitraries.oneOf(Arbitraries.longs().between(0, 200),
        Arbitraries.longs().between(0, 10_000), Arbitraries.longs().between(0, 1L << 40),
        Arbitraries.longs().between(0, Long.MAX_VALUE));
    return Combinators.combine(offsets(lastOffset), length).as((from, len) -> {
      long to = from + len;
      if (Long.compareUnsigned(to, from) < 0 || Long.compareUnsigned(to, lastOffset) > 0) {
        to = lastOffset;
      }
      return new RangeOp(from, to);
    });
  }

  static Arbitrary<Op> ops(long lastOffset, boolean withRanges) {
    Arbitrary<Long> at = offsets(lastOffset);
    Arbitrary<Integer> runLength = Arbitraries.oneOf(Arbitraries.integers().between(1, 130),
        Arbitraries.integers().between(4000, 4200));
    List<Arbitrary<? extends Op>> choices = new ArrayList<>();
    // weights by repetition: set 6, clear 3, nextClear 6, get 2, runs 1 each, setRange 1
    for (int i = 0; i < 6; i++) {
      choices.add(at.map(SetOp::new));
      choices.add(at.map(NextOp::new));
    }
    for (int i = 0; i < 3; i++) {
      choices.add(at.map(ClearOp::new));
    }
    choices.add(at.map(GetOp::new));
    choices.add(at.map(GetOp::new));
    choices.add(Combinators.combine(at, runLength).as(SetRun::new));
    choices.add(Combinators.combine(at, runLength).as(ClearRun::new));
    if (withRanges) {
      choices.add(rangeOps(lastOffset));
    }
    return Arbitraries.oneOf(choices);
  }

  static Arbitrary<Long> lastOffsets() {
    return Arbitraries.oneOf(
        Arbitraries.of(0L, 1L, 62L, 63L, 64L, 253L, 4094L, 4095L, 4096L, 4097L, 262_143L, 262_144L),
        Arbitraries.longs().between(0, 20_000),
        Arbitraries.of((1L << 24) - 3, (1L << 40) - 1, 1L << 40, (1L << 60) - 1, 1L << 60, Long.MAX_VALUE,
            Long.MIN_VALUE, MAX - 1, MAX));
  }

  @Provide
  Arbitrary<Scenario> reservedFirst() {
    return lastOffsets().flatMap(last -> Combinators.combine(
        rangeOps(last).list().ofMaxSize(4), ops(last, false).list().ofMaxSize(300))
        .as((ranges, ops) -> new Scenario(last, ranges, ops)));
  }

  @Provide
  Arbitrary<Scenario> interleaved() {
    return lastOffsets().flatMap(last -> ops(last, true).list().ofMaxSize(300)
        .map(ops -> new Scenario(last, List.of(), ops)));
  }

  // ================================================================ properties

  /**
   * Reserved spans first (as the allocator does), then random set/clear/nextClear/get: every
   * answer matches the model, cardinality counts set() offsets, and clearing everything set()
   * returns the tree to the nodes the reserved spans need.
   */
  @Property(tries = 250)
  void operations_reservedFirst_matchModel(@ForAll("reservedFirst") Scenario s) {
    AddressBitmap bitmap = new AddressBitmap(s.lastOffset());
    Model model = new Model(s.lastOffset());
    for (RangeOp r : s.reserved()) {
      apply(bitmap, model, r);
    }
    long reservedNodes = bitmap.nodeCount();
    for (Op op : s.ops()) {
      apply(bitmap, model, op);
      assertEquals(model.set.size(), bitmap.cardinality(), () -> "cardinality after " + op);
    }
    checkAgainstModel(bitmap, model);
    for (long o : new ArrayList<>(model.set)) {
      assertTrue(bitmap.clear(o), "clear " + Long.toUnsignedString(o));
      model.set.remove(o);
    }
    checkAgainstModel(bitmap, model);
    assertEquals(0, bitmap.cardinality());
    assertEquals(reservedNodes, bitmap.nodeCount(), "nodes after clearing every set() offset");
  }

  /** setRange at any time: reserved offsets stay set, clear() refuses them. */
  @Property(tries = 250)
  void operations_interleavedRanges_matchModel(@ForAll("interleaved") Scenario s) {
    AddressBitmap bitmap = new AddressBitmap(s.lastOffset());
    Model model = new Model(s.lastOffset());
    for (Op op : s.ops()) {
      apply(bitmap, model, op);
    }
    checkAgainstModel(bitmap, model);
  }

  private static void checkAgainstModel(AddressBitmap bitmap, Model model) {
    // every set offset and its neighbours, every range edge
    List<Long> probes = new ArrayList<>();
    int stride = Math.max(1, model.set.size() / 100); // about 100 set offsets and their neighbours
    int k = 0;
    for (long o : model.set) {
      if (k++ % stride == 0) {
        probes.add(o - 1);
        probes.add(o);
        probes.add(o + 1);
      }
    }
    for (long[] r : model.ranges) {
      probes.addAll(List.of(r[0] - 1, r[0], r[1], r[1] + 1));
    }
    probes.addAll(List.of(0L, model.lastOffset));
    for (long p : probes) {
      if (Long.compareUnsigned(p, model.lastOffset) > 0) {
        continue;
      }
      assertEquals(model.get(p), bitmap.get(p), "get " + Long.toUnsignedString(p));
      assertEquals(model.nextClear(p), bounded(bitmap.nextClear(p), model.lastOffset),
          "nextClear " + Long.toUnsignedString(p));
    }
  }

  private static void apply(AddressBitmap bitmap, Model model, Op op) {
    long last = model.lastOffset;
    if (op instanceof SetOp o) {
      setOne(bitmap, model, o.offset(), op);
    } else if (op instanceof ClearOp o) {
      clearOne(bitmap, model, o.offset(), op);
    } else if (op instanceof GetOp o) {
      assertEquals(model.get(o.offset()), bitmap.get(o.offset()), op::toString);
    } else if (op instanceof NextOp o) {
      long found = bitmap.nextClear(o.from());
      long expected = model.nextClear(o.from());
      assertEquals(expected, bounded(found, last), () -> op + " got " + Long.toUnsignedString(found));
      if (Long.compareUnsigned(found, last) <= 0 && found != NOT_FOUND) {
        assertFalse(bitmap.get(found), "result is clear");
      }
    } else if (op instanceof RangeOp o) {
      bitmap.setRange(o.from(), o.to());
      model.ranges.add(new long[] {o.from(), o.to()});
    } else if (op instanceof SetRun o) {
      for (int k = 0; k < o.count(); k++) {
        long at = o.from() + k;
        if (Long.compareUnsigned(at, last) > 0 || (k > 0 && at == 0)) {
          break;
        }
        setOne(bitmap, model, at, op);
      }
    } else if (op instanceof ClearRun o) {
      for (int k = 0; k < o.count(); k++) {
        long at = o.from() + k;
        if (Long.compareUnsigned(at, last) > 0 || (k > 0 && at == 0)) {
          break;
        }
        clearOne(bitmap, model, at, op);
      }
    } else {
      throw new AssertionError(op);
    }
  }

  private static void setOne(AddressBitmap bitmap, Model model, long at, Op op) {
    boolean expected = !model.get(at);
    assertEquals(expected, bitmap.set(at), () -> op + " at " + Long.toUnsignedString(at));
    if (expected) {
      model.set.add(at);
    }
  }

  private static void clearOne(AddressBitmap bitmap, Model model, long at, Op op) {
    boolean expected = !model.inRange(at) && model.set.contains(at);
    assertEquals(expected, bitmap.clear(at), () -> op + " at " + Long.toUnsignedString(at));
    if (expected) {
      model.set.remove(at);
    }
  }

  // ================================================================ examples

  @ParameterizedTest(name = "lastOffset {0}")
  @ValueSource(longs = {0, 1, 63, 64, 4095, 4096, 100_000})
  void nextClear_fillSmallSpaceInOrder_returnsEachOffsetThenPastEnd(long lastOffset) {
    AddressBitmap bitmap = new AddressBitmap(lastOffset);
    for (long o = 0; o <= lastOffset; o++) {
      assertEquals(o, bitmap.nextClear(0));
      assertTrue(bitmap.set(o));
    }
    assertEquals(lastOffset + 1, bounded(bitmap.nextClear(0), lastOffset));
    assertEquals(lastOffset + 1, bitmap.cardinality());
  }

  @Test
  void nextClear_fullSubtreesFromSet_skippedAndReopenedByClear() {
    AddressBitmap bitmap = new AddressBitmap((1L << 30) - 1);
    long n = (1L << 18) + 4096 + 70; // one full level-2 child, one full bottom, one full word and some
    for (long o = 0; o < n; o++) {
      bitmap.set(o);
    }
    assertEquals(n, bitmap.nextClear(0));
    assertEquals(n, bitmap.nextClear(12_345));
    assertTrue(bitmap.clear(200_000));
    assertEquals(200_000, bitmap.nextClear(0));
    assertEquals(n, bitmap.nextClear(200_001));
    assertTrue(bitmap.set(200_000));
    assertEquals(n, bitmap.nextClear(0));
    assertEquals(n, bitmap.cardinality());
  }

  @Test
  void nextClear_hugeSpaceNearTop_findsLastOffsetsAndNothingBeyond() {
    AddressBitmap bitmap = new AddressBitmap(MAX);
    assertEquals(MAX, bitmap.nextClear(MAX));
    assertTrue(bitmap.set(MAX));
    assertTrue(bitmap.set(MAX - 1));
    assertEquals(MAX - 2, bitmap.nextClear(MAX - 2));
    assertEquals(MAX + 1, bounded(bitmap.nextClear(MAX - 1), MAX));
    assertTrue(bitmap.get(MAX));
    assertFalse(bitmap.get(MAX - 2));
    assertFalse(bitmap.get(0));
    // everything from 2^63 on reserved: the search from there finds nothing in the space
    bitmap.setRange(Long.MIN_VALUE, MAX);
    assertEquals(MAX + 1, bounded(bitmap.nextClear(Long.MIN_VALUE), MAX));
    assertEquals(Long.MAX_VALUE, bitmap.nextClear(Long.MAX_VALUE));
    assertFalse(bitmap.clear(MAX), "offset in a reserved span");
  }

  @Test
  void setRange_wholeSpace_everythingSetNothingCounted() {
    AddressBitmap bitmap = new AddressBitmap(4095);
    bitmap.setRange(0, 4095);
    assertEquals(NOT_FOUND, bitmap.nextClear(0));
    assertTrue(bitmap.get(17));
    assertFalse(bitmap.set(17));
    assertFalse(bitmap.clear(17));
    assertEquals(0, bitmap.cardinality());
  }

  @Test
  void setRange_fromAfterTo_throws() {
    AddressBitmap bitmap = new AddressBitmap(100);
    assertThrows(IllegalArgumentException.class, () -> bitmap.setRange(5, 4));
    assertThrows(IllegalArgumentException.class, () -> new AddressBitmap(-1L));
  }

  @Test
  void clear_singleReservedOffsetInPartialWord_refusedAndStaysSet() {
    // the allocator reserves a gateway or network address this way: one offset of one word
    AddressBitmap bitmap = new AddressBitmap(253);
    bitmap.setRange(0, 0);
    bitmap.setRange(100, 130);
    assertTrue(bitmap.set(1));
    assertFalse(bitmap.clear(0), "reserved offset cleared");
    assertFalse(bitmap.clear(115), "reserved offset cleared");
    assertTrue(bitmap.get(0));
    assertTrue(bitmap.get(115));
    assertEquals(2, bitmap.nextClear(0));
    assertEquals(1, bitmap.cardinality());
    assertTrue(bitmap.clear(1));
    assertEquals(0, bitmap.cardinality());
    assertEquals(1, bitmap.nextClear(0));
  }

  // ================================================================ memory

  @Test
  void nodeCount_setThenClearEverything_dropsEveryNode() {
    AddressBitmap bitmap = new AddressBitmap(MAX);
    Random random = new Random(7);
    long[] offsets = new long[5_000];
    for (int i = 0; i < offsets.length; i++) {
      offsets[i] = random.nextInt(4) == 0 ? random.nextLong() & MAX : random.nextInt(1 << 20);
      bitmap.set(offsets[i]);
    }
    long depth = 11; // levels 10..1
    assertTrue(bitmap.nodeCount() <= bitmap.cardinality() * depth, "nodes " + bitmap.nodeCount());
    for (long o : offsets) {
      bitmap.clear(o);
    }
    assertEquals(0, bitmap.cardinality());
    assertEquals(0, bitmap.nodeCount());
    assertEquals(0, bitmap.nextClear(0));
  }

  @Test
  void set_afterNodesDropped_reusedNodesStartEmpty() {
    // mark+unmark in an empty part of the space drops nodes; the next set() reuses them
    AddressBitmap bitmap = new AddressBitmap(MAX);
    for (long o = 0; o < 200; o++) {
      bitmap.set((1L << 50) + o * 977);
    }
    for (long o = 0; o < 200; o++) {
      assertTrue(bitmap.clear((1L << 50) + o * 977));
    }
    assertEquals(0, bitmap.nodeCount());
    long far = (3L << 58) + 123_456;
    assertTrue(bitmap.set(far));
    assertEquals(10, bitmap.nodeCount(), "one path, levels 10..1");
    long block = far - far % 4096;
    for (long o = block; o < block + 4096; o++) {
      assertEquals(o == far, bitmap.get(o), "offset " + o);
    }
    for (long o = 0; o < 200; o++) {
      assertFalse(bitmap.get((1L << 50) + o * 977));
    }
    assertEquals(block, bitmap.nextClear(block));
    assertEquals(far + 1, bitmap.nextClear(far));
    assertEquals(1, bitmap.cardinality());
    for (long o = far + 1; o < far + 5000; o++) {
      bitmap.set(o);
    }
    assertEquals(far + 5000, bitmap.nextClear(far));
  }

  @Test
  void nodeCount_denseRegion_oneBottomPer4096() {
    AddressBitmap bitmap = new AddressBitmap((1L << 40) - 1);
    for (long o = 0; o < 40_960; o++) {
      bitmap.set((1L << 39) + o);
    }
    // 10 bottoms plus one inner node per level above them (levels 2..6)
    assertEquals(10 + 5, bitmap.nodeCount());
    for (long o = 0; o < 40_960; o += 2) {
      bitmap.clear((1L << 39) + o);
    }
    assertEquals(15, bitmap.nodeCount(), "half-full bottoms stay");
    for (long o = 1; o < 40_960; o += 2) {
      bitmap.clear((1L << 39) + o);
    }
    assertEquals(0, bitmap.nodeCount());
  }

  @Test
  void setRange_hugeSpan_usesFewNodes() {
    AddressBitmap bitmap = new AddressBitmap(MAX);
    bitmap.setRange(12_345, MAX - 12_345);
    assertTrue(bitmap.nodeCount() <= 2 * 11, "nodes " + bitmap.nodeCount());
    assertEquals(0, bitmap.nextClear(0));
    assertEquals(12_344, bitmap.nextClear(12_344));
    assertEquals(MAX - 12_344, bitmap.nextClear(12_345));
    assertTrue(bitmap.get(1L << 50));
    assertFalse(bitmap.get(MAX - 12_344));
  }

  /** A BitSet cross-check of the plain (no reserved spans) bitmap over a dense small space. */
  @Property(tries = 50)
  void nextClear_denseRandomFill_matchesBitSet(@ForAll("fills") int percent) {
    int size = 50_000;
    Random random = new Random(percent);
    AddressBitmap bitmap = new AddressBitmap(size - 1);
    BitSet model = new BitSet(size);
    for (int i = 0; i < size; i++) {
      if (random.nextInt(100) < percent) {
        bitmap.set(i);
        model.set(i);
      }
    }
    for (int from = 0; from < size; from += 1 + random.nextInt(50)) {
      assertEquals(Math.min(model.nextClearBit(from), size), bounded(bitmap.nextClear(from), size - 1));
    }
    assertEquals(model.cardinality(), bitmap.cardinality());
  }

  @Provide
  Arbitrary<Integer> fills() {
    return Arbitraries.of(0, 1, 50, 90, 99, 100);
  }
}
