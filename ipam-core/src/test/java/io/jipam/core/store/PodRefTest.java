package io.jipam.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PodRefTest {
  @ParameterizedTest
  @CsvSource(quoteCharacter = '\'', value = {"kube-system, coredns-5d78c9869d-abcde", "'', ''", "ns, ''", "'', web",
      "a, a.b-c.d", "n0, 0"})
  void validated_kubernetesNamesOrEmpty_accepted(String namespace, String name) {
    assertEquals(new PodRef(namespace, name), PodRef.validated(namespace, name, "ns", "name", ErrorCode.INVALID_CONFIG));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "'\u001b[2J' | web | not a Kubernetes namespace: only lowercase",
      "Default | web | not a Kubernetes namespace",
      "a.b | web | not a Kubernetes namespace",
      "-ns | web | start and end",
      "ns- | web | start and end",
      "ns | 'web\nforged' | not a Kubernetes pod name",
      "ns | a..b | each part between dots",
      "ns | a.-b | not a Kubernetes pod name",
      "ns | a-.b | not a Kubernetes pod name",
      "ns | .a | each part between dots",
      "ns | a. | must end with",
      "ns | web_1 | only lowercase letters, digits, '-', '.'"})
  void validated_invalidPart_throwsNamingFieldAndValue(String namespace, String name, String why) {
    IpamException e = assertThrows(IpamException.class,
        () -> PodRef.validated(namespace, name, "K8S_POD_NAMESPACE", "K8S_POD_NAME", ErrorCode.INVALID_ENVIRONMENT));
    assertEquals(ErrorCode.INVALID_ENVIRONMENT, e.code());
    assertTrue(e.getMessage().contains(why), e.getMessage());
    assertTrue(e.getMessage().contains(Printable.quote(namespace)) || e.getMessage().contains(Printable.quote(name)),
        e.getMessage());
  }

  @org.junit.jupiter.api.Test
  void validated_lengthLimits_63And253() {
    PodRef.validated("n".repeat(63), "p".repeat(253), "a", "b", ErrorCode.INVALID_CONFIG);
    assertThrows(IpamException.class, () -> PodRef.validated("n".repeat(64), "", "a", "b", ErrorCode.INVALID_CONFIG));
    IpamException e = assertThrows(IpamException.class,
        () -> PodRef.validated("", "p".repeat(254), "a", "b", ErrorCode.INVALID_CONFIG));
    assertTrue(e.getMessage().endsWith("it is 254 characters long; at most 253 are allowed"), e.getMessage());
  }
}
