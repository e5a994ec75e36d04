package io.jipam.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.FindRequest;
import io.jipam.api.v1.ListRequest;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.api.v1.RetainOnlyRequest;
import io.jipam.api.v1.UsageRequest;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.List;

/**
 * Coverage-guided fuzzing (Jazzer) of jipamd's {@code jipam.v1} request decoding on an in-memory
 * store: each message parsed from any bytes and handed to the endpoint's own call methods gives a
 * response or a clean {@link IpamException} (never {@code INTERNAL}); bytes that are not the
 * message are refused by protobuf before any call. {@code JAZZER_FUZZ=1} fuzzes. The CNI side is
 * {@code io.jipam.server.cni.CniRequestFuzzTest}.
 */
class GrpcRequestFuzzTest {
  private static final List<String> CALLS = List.of("allocate", "release", "find", "list", "retainOnly", "usage");
  private static final List<Parser<?>> PARSERS = List.of(AllocateRequest.parser(), ReleaseRequest.parser(),
      FindRequest.parser(), ListRequest.parser(), RetainOnlyRequest.parser(), UsageRequest.parser());

  private final IpamStore store = MemoryStores.open();
  private final CallLog log = new CallLog(new PrintStream(new ByteArrayOutputStream()), false);
  private final IpamEndpoint grpc = new IpamEndpoint(store, new PoolRegistry(), Runnable::run, log, new Metrics());

  @FuzzTest(maxDuration = "30s")
  void grpcCall_anyMessage_responseOrCleanError(FuzzedDataProvider data) throws Exception {
    int call = data.consumeInt(0, CALLS.size() - 1);
    Object request;
    try {
      request = PARSERS.get(call).parseFrom(data.consumeRemainingAsBytes());
    } catch (InvalidProtocolBufferException e) {
      return; // gRPC answers INVALID_ARGUMENT before the endpoint sees anything
    }
    Method m = IpamEndpoint.class.getDeclaredMethod(CALLS.get(call), Access.Scope.class, request.getClass());
    m.setAccessible(true);
    Access.Scope scope = new Access.Scope(new Caller(Caller.Role.OPERATOR, null, "the test"), store);
    try {
      assertTrue(m.invoke(grpc, scope, request) != null);
    } catch (InvocationTargetException e) {
      if (!(e.getCause() instanceof IpamException ipam)) {
        throw new AssertionError(CALLS.get(call) + " threw " + e.getCause(), e.getCause());
      }
      assertNotEquals(ErrorCode.INTERNAL, ipam.code(), ipam::toString);
      assertEquals(false, ipam.getMessage().isBlank());
    }
  }
}
