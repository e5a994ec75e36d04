package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpAddress;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The block networks a store walks to claim a block step over an excluded span at once: a /9
 * excluded from a /8 of /26 blocks was 131,072 blocks walked one by one, past the bound the store
 * walks, and etcd answered Exhausted with 8,388,607 addresses free (helper review).
 */
class BlockLayoutCandidatesTest {
  static BlockLayout layout(String subnet, String start, String end, String... excludes) {
    List<Cidr> x = new ArrayList<>();
    for (String e : excludes) {
      x.add(Cidr.parse(e));
    }
    IpRange range = IpRange.withDefaults(Cidr.parse(subnet), start == null ? null : IpAddress.parse(start),
        end == null ? null : IpAddress.parse(end), null, x);
    return new BlockLayout(new Pool("p", List.of(new RangeSet(List.of(range))), AllocationOrder.LOWEST_FREE),
        new int[] {26});
  }

  static List<String> first(Iterable<IpAddress> walk, int n) {
    List<String> out = new ArrayList<>();
    for (IpAddress a : walk) {
      if (out.size() == n) {
        break;
      }
      out.add(a.toString());
    }
    return out;
  }

  record Row(String name, BlockLayout layout, String after, List<String> firstBlocks) {}

  @Test
  void candidates_excludedSpans_steppedOverAtOnce() {
    List<Row> rows = List.of(
        new Row("a /9 excluded from a /8", layout("10.0.0.0/8", "10.0.0.2", "10.255.255.254", "10.0.0.0/9"), null,
            List.of("10.128.0.0", "10.128.0.64")),
        new Row("the same walked from a hint inside the exclude",
            layout("10.0.0.0/8", "10.0.0.2", "10.255.255.254", "10.0.0.0/9"), "10.0.0.64",
            List.of("10.128.0.0", "10.128.0.64")),
        new Row("two excludes back to back, and one smaller than a block (walked: the block has free addresses)",
            layout("10.0.0.0/16", null, null, "10.0.0.0/18", "10.0.64.0/18", "10.0.128.8/29"), null,
            List.of("10.0.128.0", "10.0.128.64")),
        new Row("an exclude to the range's end leaves nothing after it",
            layout("10.0.0.0/24", null, null, "10.0.0.128/25"), "10.0.0.64", List.of()),
        new Row("no exclude", layout("10.0.0.0/24", null, null), null, List.of("10.0.0.0", "10.0.0.64")),
        new Row("0.0.0.0/0 with 0.0.0.0/1 excluded", layout("0.0.0.0/0", "0.0.0.1", "255.255.255.254", "0.0.0.0/1"),
            null, List.of("128.0.0.0", "128.0.0.64")));
    for (Row row : rows) {
      Iterable<IpAddress> walk = row.after() == null ? row.layout().candidates(0)
          : row.layout().candidatesAfter(0, IpAddress.parse(row.after()));
      assertEquals(row.firstBlocks(), first(walk, 2), row.name());
    }
  }
}
