package io.jipam.core.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.net.AddressWithPrefix;
import io.jipam.core.net.IpAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CniJsonTest {
  private static final CniResult RESULT = new CniResult(
      List.of(new CniResult.IpConfig(AddressWithPrefix.parse("198.18.0.2/24"), IpAddress.parse("198.18.0.1")),
          new CniResult.IpConfig(AddressWithPrefix.parse("fd00::2/64"), IpAddress.parse("fd00::1"))),
      List.of(new Route(AddressWithPrefix.parse("0.0.0.0/0"), IpAddress.parse("198.18.0.1"), 1400L, null, 10L, null, null)),
      new Dns(List.of("198.18.0.53"), "example.test", List.of(), List.of()));

  @SuppressWarnings("unchecked")
  @ParameterizedTest
  @EnumSource(CniVersion.class)
  void result_eachVersion_hasThatVersionsShape(CniVersion version) {
    Map<String, Object> out = JsonFields.asObject(JsonReader.parse(CniJson.result(version, RESULT)), "out");
    assertEquals(version.text(), out.get("cniVersion"));
    List<Map<String, Object>> ips = (List<Map<String, Object>>) out.get("ips");
    assertEquals("198.18.0.2/24", ips.get(0).get("address"));
    assertEquals("fd00::1", ips.get(1).get("gateway"));
    boolean pre1 = version.compareTo(CniVersion.V1_0_0) < 0;
    assertEquals(pre1 ? "4" : null, ips.get(0).get("version"));
    assertEquals(pre1 ? "6" : null, ips.get(1).get("version"));
    assertFalse(ips.get(0).containsKey("interface"));
    Map<String, Object> route = ((List<Map<String, Object>>) out.get("routes")).get(0);
    assertEquals("0.0.0.0/0", route.get("dst"));
    assertEquals(version == CniVersion.V1_1_0 ? 1400L : null, route.get("mtu"));
    assertEquals(List.of("198.18.0.53"), ((Map<String, Object>) out.get("dns")).get("nameservers"));
  }

  @ParameterizedTest
  @EnumSource(ErrorCode.class)
  void error_anyCode_printsSpecErrorObject(ErrorCode code) {
    Map<String, Object> out = JsonFields.asObject(JsonReader.parse(
        CniJson.error("0.4.0", new IpamException(code, "bad value \"x\""))), "out");
    assertEquals("0.4.0", out.get("cniVersion"));
    assertEquals((long) code.cniCode(), out.get("code"));
    assertEquals("bad value \"x\"", out.get("msg"));
  }

  @SuppressWarnings("unchecked")
  @ParameterizedTest
  @EnumSource(CniVersion.class)
  void versionInfo_listsEverySupportedVersion(CniVersion version) {
    Map<String, Object> out = JsonFields.asObject(JsonReader.parse(CniJson.versionInfo()), "out");
    assertTrue(((List<String>) out.get("supportedVersions")).contains(version.text()));
  }
}
