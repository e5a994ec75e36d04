package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParsedConfigsTest {
  private final ParsedConfigs configs = new ParsedConfigs();

  private static byte[] config(String name, String ipamExtra) {
    return ("{\"cniVersion\":\"1.0.0\",\"name\":\"" + name + "\",\"ipam\":{\"type\":\"jipam\","
        + "\"subnet\":\"198.18.0.0/24\"" + ipamExtra + "}}").getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void read_sameBytesAgain_givesTheKeptConfig() {
    ParsedConfigs.Parsed first = configs.read(config("net", ""));
    ParsedConfigs.Parsed again = configs.read(config("net", "")); // equal bytes, another array

    assertSame(first, again);
    assertEquals("1.0.0", again.versionText());
    assertEquals("net", again.configOrThrow().name());
  }

  @Test
  void read_otherBytes_readsThemAfresh() {
    ParsedConfigs.Parsed a = configs.read(config("net", ""));
    ParsedConfigs.Parsed b = configs.read(config("net", ",\"order\":\"lowest-free\""));

    assertNotSame(a, b);
    assertEquals(2, configs.size());
  }

  @Test
  void read_resolvConf_readsTheFileOnEveryCall(@TempDir Path dir) throws Exception {
    Path resolv = dir.resolve("resolv.conf");
    Files.writeString(resolv, "nameserver 198.18.0.53\n");
    byte[] bytes = config("net", ",\"resolvConf\":\"" + resolv + "\"");

    ParsedConfigs.Parsed before = configs.read(bytes);
    Files.writeString(resolv, "nameserver 198.18.0.54\n");
    ParsedConfigs.Parsed after = configs.read(bytes);

    assertEquals("[198.18.0.53]", nameservers(before));
    assertEquals("[198.18.0.54]", nameservers(after));
    assertEquals(0, configs.size());
  }

  /** The nameservers of the config's result DNS, as its text shows them (the type is core's own). */
  private static String nameservers(ParsedConfigs.Parsed parsed) {
    String dns = String.valueOf((Object) parsed.configOrThrow().ipam().dns());
    return dns.substring(dns.indexOf("nameservers=") + "nameservers=".length(), dns.indexOf(']') + 1);
  }

  @Test
  void read_configOfOneContainer_readsItButKeepsNothing() {
    for (String extra : java.util.List.of(
        "\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"198.18.0.2/24\"}]}",
        "\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\",\"ifname\":\"eth0\"}]",
        "\"runtimeConfig\":{\"ips\":[\"198.18.0.9/24\"]}",
        "\"args\":{\"cni\":{\"ips\":[\"198.18.0.9\"]}}")) {
      byte[] bytes = ("{\"cniVersion\":\"1.0.0\",\"name\":\"net\"," + extra + ",\"ipam\":{\"type\":\"jipam\","
          + "\"subnet\":\"198.18.0.0/24\"}}").getBytes(StandardCharsets.UTF_8);

      ParsedConfigs.Parsed first = configs.read(bytes);

      assertEquals("net", first.configOrThrow().name(), extra);
      assertNotSame(first, configs.read(bytes), extra);
      assertEquals(0, configs.size(), extra);
    }
  }

  @Test
  void read_invalidConfig_givesTheErrorAndItsVersion_keepsNothing() {
    byte[] bytes = "{\"cniVersion\":\"0.4.0\",\"name\":\"net\"}".getBytes(StandardCharsets.UTF_8);

    ParsedConfigs.Parsed parsed = configs.read(bytes);

    assertEquals("0.4.0", parsed.versionText());
    assertNull(parsed.config());
    IpamException e = assertThrows(IpamException.class, parsed::configOrThrow);
    assertEquals(ErrorCode.INVALID_CONFIG, e.code());
    assertEquals(0, configs.size());
  }

  @Test
  void read_notJson_throwsDecodeFailure() {
    IpamException e = assertThrows(IpamException.class,
        () -> configs.read("{\"cniVersion\":".getBytes(StandardCharsets.UTF_8)));

    assertEquals(ErrorCode.DECODE_FAILURE, e.code());
    assertEquals(0, configs.size());
  }

  @Test
  void read_configOverTheSizeKept_readsItButKeepsNothing() {
    String pad = ",\"routes\":[],\"logFile\":\"/tmp/" + "x".repeat(ParsedConfigs.MAX_CONFIG_BYTES) + "\"";
    byte[] bytes = config("net", pad);

    ParsedConfigs.Parsed first = configs.read(bytes);

    assertEquals("net", first.configOrThrow().name());
    assertNotSame(first, configs.read(bytes));
    assertEquals(0, configs.size());
  }

  @Test
  void read_moreConfigsThanKept_leastRecentlyUsedLeaves() {
    ParsedConfigs.Parsed first = configs.read(config("net0", ""));
    ParsedConfigs.Parsed second = configs.read(config("net1", ""));
    for (int i = 2; i <= ParsedConfigs.MAX_ENTRIES; i++) {
      configs.read(config("net" + i, ""));
      if (i == ParsedConfigs.MAX_ENTRIES / 2) {
        assertSame(first, configs.read(config("net0", ""))); // used again: now more recent than net1
      }
    }

    assertEquals(ParsedConfigs.MAX_ENTRIES, configs.size());
    assertSame(first, configs.read(config("net0", "")));
    assertNotSame(second, configs.read(config("net1", ""))); // the least recently used had left
  }
}
