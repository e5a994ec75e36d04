package io.jipam.core.testing;

import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.Cidr;
import io.jipam.core.net.IpRange;
import io.jipam.core.net.RangeSet;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import java.util.ArrayList;
import java.util.List;

/**
 * Pools and attachments for tests of every module (shipped in ipam-core's test-jar): one range
 * set per subnet, each range with host-local's defaults (from network + 1 to the last address,
 * before the broadcast for IPv4; gateway {@code .1}).
 */
public final class TestPools {
  private TestPools() {}

  /** A pool of one single-range set per subnet, in the given order. */
  public static Pool pool(String name, AllocationOrder order, String... subnets) {
    List<RangeSet> sets = new ArrayList<>();
    for (String subnet : subnets) {
      sets.add(new RangeSet(List.of(IpRange.withDefaults(Cidr.parse(subnet), null, null, null, null))));
    }
    return new Pool(name, sets, order);
  }

  /** The attachment {@code (id, eth0)}. */
  public static Attachment att(String id) {
    return new Attachment(id, "eth0");
  }
}
