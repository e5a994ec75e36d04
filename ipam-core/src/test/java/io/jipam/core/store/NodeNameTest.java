package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NodeNameTest {
  @ParameterizedTest
  @ValueSource(strings = {"node-1", "ip-10-0-0-1.ec2.internal", "Worker_2", "a", "9"})
  void problem_validName_isNull(String name) {
    assertNull(NodeName.problem(name));
    assertEquals(name, NodeName.require(name, "test", ErrorCode.INVALID_CONFIG));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "../../x", "a/b", ".", "..", "-bad", "_x", "a b", "a\nb", "nöde", "a:b"})
  void require_invalidName_throwsQuotingIt(String name) {
    IpamException e = assertThrows(IpamException.class,
        () -> NodeName.require(name, "ReclaimNode", ErrorCode.INVALID_CONFIG));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertTrue(e.getMessage().startsWith("ReclaimNode: invalid node name " + Printable.quote(name) + ": "),
        e.getMessage());
  }

  @org.junit.jupiter.api.Test
  void require_300Characters_givesLengthAndShortQuote() {
    String name = "n".repeat(300);
    IpamException e = assertThrows(IpamException.class, () -> NodeName.require(name, "w", ErrorCode.INVALID_CONFIG));
    assertTrue(e.getMessage().contains("(300 characters)"), e.getMessage());
    assertTrue(e.getMessage().endsWith("it is 300 characters long; at most 253 are allowed"), e.getMessage());
    assertNull(NodeName.problem("n".repeat(253)));
  }
}
