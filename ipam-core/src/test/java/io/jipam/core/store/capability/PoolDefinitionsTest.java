package io.jipam.core.store.capability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.TestPools;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pools a store defines of one network, by the default read: its every definition, filtered. */
class PoolDefinitionsTest {
  private final PoolDefinitions store = () -> List.of(pool("net"), pool("net+a"), pool("net2"), pool("net2+a"),
      pool("other+x"));

  private static Pool pool(String name) {
    return TestPools.pool(name, AllocationOrder.ROUND_ROBIN, "198.18.0.0/29");
  }

  @Test
  void definedPools_table_theNetworksOwnPoolAndSubPoolsOnly() {
    record Row(String network, List<String> want) {}
    for (Row row : List.of(new Row("net", List.of("net", "net+a")), new Row("net2", List.of("net2", "net2+a")),
        new Row("other", List.of("other+x")), new Row("ne", List.of()), new Row("absent", List.of()))) {
      assertEquals(row.want(), store.definedPools(row.network()).stream().map(Pool::name).toList(), row.toString());
    }
  }

  @Test
  void definedPools_noNetworkName_invalidConfigNamingIt() {
    record Row(String network, String named) {}
    for (Row row : List.of(new Row("net+a", "\"net+a\""), new Row("", "\"\""), new Row(null, "\"null\""),
        new Row("a/b", "\"a/b\""), new Row("x\u001b[2J", "\"x\\x1b[2J\""))) {
      IpamException e = assertThrows(IpamException.class, () -> store.definedPools(row.network()), row.toString());
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().startsWith("invalid network name " + row.named() + ": "), e.getMessage());
    }
  }
}
