package io.jipam.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.jipam.api.WireMapping;
import io.jipam.api.v1.UsageResponse;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.Pool;
import io.jipam.core.store.PoolUsage;
import io.jipam.core.store.StickyRule;
import io.jipam.core.store.capability.BlockUsage;
import io.jipam.core.store.capability.PoolStatus;
import io.jipam.core.testing.TestPools;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FormatsTest {
  /**
   * Usage text and JSON of one pool: no blocks (files, memory), blocks but none yet, and blocks of
   * several owners (none, two nodes, one whose name needs escaping), as {@code jipamctl usage} and
   * {@code -o json} print them. {@code usage-golden.txt} is what jipamctl printed for the same
   * values at 44c3553, before its backends spoke domain types (through {@code UsageResponse}).
   */
  static String usageOutput(UnaryOperator<PoolStatus> path) {
    Pool pool = TestPools.pool("pods", AllocationOrder.LOWEST_FREE, "198.18.0.0/24", "fd00:1::/64");
    PoolUsage usage = new PoolUsage(List.of(70L, 3L), List.of(183L, -4L));
    List<BlockUsage> blocks = List.of(
        new BlockUsage(0, Cidr.parse("198.18.0.0/26"), "node-b", 64, 64),
        new BlockUsage(0, Cidr.parse("198.18.0.64/26"), "node-a", 5, 64),
        new BlockUsage(0, Cidr.parse("198.18.0.128/26"), "", 1, 62),
        new BlockUsage(0, Cidr.parse("198.18.0.192/26"), "node-a", 0, 64),
        new BlockUsage(1, Cidr.parse("fd00:1::/122"), "x\u001b[2J", 3, 64));
    StringWriter s = new StringWriter();
    PrintWriter out = new PrintWriter(s);
    List<List<BlockUsage>> cases = java.util.Arrays.asList(null, List.of(), blocks);
    for (int k = 0; k < cases.size(); k++) {
      PoolStatus status = path.apply(new PoolStatus(pool, usage, cases.get(k)));
      out.println("== case " + k);
      Formats.usageText(out, status);
      out.println(Formats.usageJson(status).encodePrettily());
    }
    out.flush();
    return s.toString();
  }

  @Test
  void usage_directAndThroughTheWire_sameBytesAsBefore() throws Exception {
    String golden = Golden.read("usage-golden.txt");
    assertEquals(golden, usageOutput(UnaryOperator.identity()), "a store jipamctl opened");
    assertEquals(golden, usageOutput(s -> {
      try {
        return WireMapping.status(s.pool(), UsageResponse.parseFrom(WireMapping.usageResponse(s).toByteArray()));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
    }), "a jipamd's answer");
  }

  @ParameterizedTest
  @CsvSource({"0, 0", "250, 250", "999999999999, 999999999999", "18446744073709551612, 2^64-4",
      "18446744073709551615, 2^64-1", "281474976710656, 2^48", "281474976710659, 2^48+3",
      "10000000000000000000, 1.00e19", "5000000000000, 5.00e12"})
  void count_unsigned_readableInText(String exact, String text) {
    assertEquals(text, Formats.count(Long.parseUnsignedLong(exact)));
  }

  @ParameterizedTest
  @CsvSource({"3, 18446744073709551612, '[....................]  <0.1%'", "0, 18446744073709551612, '[....................]   0.0%'",
      "125, 125, '[##########..........]  50.0%'", "0, 0, '[....................]   0.0%'"})
  void bar_unsignedFree_rightShare(long used, String free, String bar) {
    assertEquals(bar, Formats.bar(used, Long.parseUnsignedLong(free)));
  }

  @Test
  void ratio_hugeFree_isTinyNotNegative() {
    assertEquals(0.5, Formats.ratio(Long.MIN_VALUE, Long.MIN_VALUE)); // 2^63 used, 2^63 free
    assertEquals(0.0, Formats.ratio(3, -4L));
  }

  @Test
  void rules_stickyAndReuseDelay_shownInTextAndJson_noneForHostLocalRules() {
    AddressPolicy none = AddressPolicy.NONE;
    assertEquals("", Formats.rulesText(none));
    Pool plain = TestPools.pool("plain", AllocationOrder.LOWEST_FREE, "198.18.0.0/24");
    assertFalse(Formats.usageJson(new PoolStatus(plain,
        new PoolUsage(List.of(0L), List.of(253L)), null)).containsKey("rules"), "no rules key without rules");
    AddressPolicy policy = new AddressPolicy(
        new StickyRule(List.of(PodPattern.parse("db/*"),
            PodPattern.parse("*/web-?")), Duration.ofSeconds(900), 25),
        Duration.ofSeconds(30));
    assertEquals("sticky db/*,*/web-? hold 900 s (at most 25% held); reuse delay 30 s",
        Formats.rulesText(policy));
    assertEquals("{\"reuseDelaySeconds\":30,\"sticky\":{\"pods\":[\"db/*\",\"*/web-?\"],"
        + "\"holdSeconds\":900,\"maxHeldPercent\":25}}",
        Formats.usageJson(new PoolStatus(plain.withPolicy(policy), new PoolUsage(List.of(0L), List.of(253L)), null))
            .getJsonObject("rules").encode());
    assertEquals("reuse delay 30 s",
        Formats.rulesText(new AddressPolicy(null, Duration.ofSeconds(30))));
  }
}
