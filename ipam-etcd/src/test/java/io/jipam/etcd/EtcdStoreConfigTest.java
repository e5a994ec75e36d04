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

/** The config builder: defaults, copies, and validation naming the bad value. */
class EtcdStoreConfigTest {
  private static final List<String> ENDPOINTS = List.of("127.0.0.1:2379");

  @Test
  void builder_nothingSet_givesTheDefaults() {
    EtcdStoreConfig c = EtcdStoreConfig.builder(ENDPOINTS, "n").build();
    assertEquals(List.of("http://127.0.0.1:2379"), c.endpoints());
    assertEquals(EtcdStoreConfig.DEFAULT_TIMEOUT, c.timeout());
    assertEquals(EtcdStoreConfig.DEFAULT_BLOCK_V4, c.blockSizeV4());
    assertEquals(EtcdStoreConfig.DEFAULT_BLOCK_V6, c.blockSizeV6());
    assertEquals(EtcdStoreConfig.DEFAULT_PREFIX, c.prefix());
    assertEquals(c, EtcdStoreConfig.of(ENDPOINTS, "n"));
  }

  @Test
  void toBuilder_oneValueChanged_keepsTheOthers() {
    EtcdStoreConfig c = EtcdStoreConfig.builder(ENDPOINTS, "n").timeout(Duration.ofMillis(700))
        .blockSizes(28, 120).strictAffinity(true).prefix("/x").credentials("u", "p").build();
    EtcdStoreConfig d = c.toBuilder().node("m").build();
    assertEquals(new EtcdStoreConfig(c.endpoints(), "m", c.timeout(), 28, 120, true, null, "u", "p", "/x"), d);
    assertEquals(d, c.withNode("m"));
  }

  @Test
  void build_badValues_refusedNamingTheValue() {
    Map<String, UnaryOperator<EtcdStoreConfig.Builder>> cases = Map.of(
        "99", b -> b.timeout(Duration.ofMillis(99)),
        "15", b -> b.blockSizes(15, 122),
        "127", b -> b.blockSizes(26, 127),
        "jipam/", b -> b.prefix("jipam/"),
        "n/x", b -> b.node("n/x"),
        "go together", b -> b.credentials("u", null),
        "at least one", b -> b.endpoints(List.of()));
    cases.forEach((named, change) -> {
      IpamException e = assertThrows(IpamException.class,
          () -> change.apply(EtcdStoreConfig.builder(ENDPOINTS, "n")).build(), named);
      assertEquals(ErrorCode.INVALID_CONFIG, e.code());
      assertTrue(e.getMessage().contains(named), e.getMessage());
    });
  }
}
