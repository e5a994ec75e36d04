package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class EtcdClientTest {

  /**
   * Every timeout the config accepts gives a client whose calls to an unreachable etcd fail with
   * TRY_AGAIN_LATER (jetcd's retry policy, with its default delays, refused timeouts under 2.5 s
   * with an IllegalStateException: error 999).
   */
  @ParameterizedTest
  @ValueSource(longs = {100, 300, 1999})
  void range_unreachableEtcdAnyAcceptedTimeout_tryAgainLater(long millis) {
    EtcdStoreConfig config = EtcdStoreConfig.of(List.of("http://127.0.0.1:1"), "node-a")
        .withTimeout(Duration.ofMillis(millis));
    try (EtcdClient client = new EtcdClient(config, System::nanoTime)) {
      long deadline = System.nanoTime() + Duration.ofMillis(millis).toNanos();
      IpamException e = assertThrows(IpamException.class,
          () -> client.range("/jipam/", Fetch.KEYS, deadline, "test read"));
      assertEquals(ErrorCode.TRY_AGAIN_LATER, e.code(), e.getMessage());
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {100, 300, 3000, 600_000})
  void retryDelayMillis_anyTimeout_twoDelaysFitInIt(long millis) {
    long delay = EtcdConnections.retryDelayMillis(Duration.ofMillis(millis));
    assertTrue(delay >= 1 && 2 * delay < millis, "delay " + delay + " for timeout " + millis);
  }

  /** etcd's refusals for its limits name the setting to raise; other refusals get nothing added. */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
      "etcdserver: too many operations in txn request|--max-txn-ops",
      "etcdserver: request is too large|--max-request-bytes",
      "etcdserver: permission denied|",
      "|"})
  void classify_refusedForALimit_namesTheSetting(String etcdMessage, String setting) {
    String hint = EtcdClient.limitHint(etcdMessage);
    if (setting == null) {
      assertEquals("", hint);
    } else {
      assertTrue(hint.contains(setting), hint);
    }
    EtcdStoreConfig config = EtcdStoreConfig.of(List.of("http://127.0.0.1:1"), "node-a");
    try (EtcdClient client = new EtcdClient(config, System::nanoTime)) {
      IpamException e = client.classify(new io.grpc.StatusRuntimeException(io.grpc.Status.INVALID_ARGUMENT
          .withDescription(etcdMessage)), "committing p");
      assertEquals(ErrorCode.IO_FAILURE, e.code());
      assertTrue(e.getMessage().endsWith(hint), e.getMessage());
    }
  }
}
