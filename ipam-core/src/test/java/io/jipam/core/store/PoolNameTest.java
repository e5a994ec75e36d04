package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which names may name a network: a pool name without the sub-pool separator. */
class PoolNameTest {
  @Test
  void isNetworkName_table_aPoolNameWithoutTheSeparator() {
    record Row(String name, boolean want) {}
    for (Row row : List.of(new Row("net", true), new Row("n.et_1-x", true), new Row("n".repeat(253), true),
        new Row("n".repeat(254), false), new Row("net+a", false), new Row("net+", false), new Row("", false),
        new Row(null, false), new Row("-net", false), new Row("a/b", false))) {
      assertEquals(row.want(), Pool.isNetworkName(row.name()), String.valueOf(row.name()));
      if (row.want()) {
        assertEquals(row.name(), Pool.requireNetworkName(row.name()));
      } else {
        IpamException e = assertThrows(IpamException.class, () -> Pool.requireNetworkName(row.name()));
        assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
      }
    }
  }
}
