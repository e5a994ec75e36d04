package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The config: defaults, copies ({@code withX}), and validation naming the bad value. */
class EtcdStoreConfigTest {
  private static final List<String> ENDPOINTS = List.of("127.0.0.1:2379");

  @Test
  void of_nothingElseSet_givesTheDefaults() {
    EtcdStoreConfig c = EtcdStoreConfig.of(ENDPOINTS, "n");
    assertEquals(List.of("http://127.0.0.1:2379"), c.endpoints());
    assertEquals(EtcdStoreConfig.DEFAULT_TIMEOUT, c.timeout());
    assertEquals(EtcdStoreConfig.DEFAULT_BLOCK_V4, c.blockSizeV4());
    assertEquals(EtcdStoreConfig.DEFAULT_BLOCK_V6, c.blockSizeV6());
    assertEquals(EtcdStoreConfig.DEFAULT_PREFIX, c.prefix());
  }

  @Test
  void with_oneValueChanged_keepsTheOthers() {
    EtcdStoreConfig c = EtcdStoreConfig.of(ENDPOINTS, "n").withTimeout(Duration.ofMillis(700))
        .withBlockSizes(28, 120).withStrictAffinity(true).withPrefix("/x").withCredentials("u", "p");
    EtcdStoreConfig d = c.withNode("m");
    assertEquals(new EtcdStoreConfig(c.endpoints(), "m", c.timeout(), 28, 120, true, null, "u", "p", "/x"), d);
  }

  @Test
  void with_badValues_refusedNamingTheValue() {
    Map<String, UnaryOperator<EtcdStoreConfig>> cases = Map.of(
        "99", c -> c.withTimeout(Duration.ofMillis(99)),
        "15", c -> c.withBlockSizes(15, 122),
        "127", c -> c.withBlockSizes(26, 127),
        "jipam/", c -> c.withPrefix("jipam/"),
        "n/x", c -> c.withNode("n/x"),
        "go together", c -> c.withCredentials("u", null),
        "at least one", c -> EtcdStoreConfig.of(List.of(), c.node()));
    cases.forEach((named, change) -> {
      IpamException e = assertThrows(IpamException.class,
          () -> change.apply(EtcdStoreConfig.of(ENDPOINTS, "n")), named);
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().contains(named), e.getMessage());
    });
  }

  @Test
  void fromJson_blockSizePastAnInt_refusedNotWrappedAround() {
    for (long size : new long[] {4294967322L, -4294967270L, 129, -1}) {
      IpamException e = assertThrows(IpamException.class, () -> EtcdStoreConfig.fromJson(
          Map.of("type", "etcd", "endpoints", ENDPOINTS, "node", "n", "blockSizeV4", size)), Long.toString(size));
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().contains("blockSizeV4") && e.getMessage().contains(Long.toString(size)), e.getMessage());
    }
    assertEquals(28, EtcdStoreConfig.fromJson(Map.of("type", "etcd", "endpoints", ENDPOINTS, "node", "n",
        "blockSizeV4", 28L)).blockSizeV4());
  }

  @Test
  void fromJson_passwordNotAString_refusedWithoutShowingIt() {
    for (Object secret : List.of(987654321L, List.of("s3cretPW"), Map.of("pw", "s3cretPW"), true)) {
      IpamException e = assertThrows(IpamException.class, () -> EtcdStoreConfig.fromJson(Map.of("type", "etcd",
          "endpoints", ENDPOINTS, "node", "n", "user", "u", "password", secret)), secret.toString());
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().contains("\"password\" must be a string") && !e.getMessage().contains("987654321")
          && !e.getMessage().contains("s3cretPW") && !e.getMessage().contains("true"), e.getMessage());
    }
  }
}
