package io.jipam.server.cni;

import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jipam.core.cni.JsonFields;
import io.jipam.core.cni.JsonReader;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import io.jipam.server.metrics.Metrics;
import io.jipam.server.pools.PoolRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.Map;

/**
 * Coverage-guided fuzzing (Jazzer) of the daemon endpoint's body (environment lines, empty line,
 * network config) on an in-memory store, through {@link CniEndpoint#run}: exit 0 with a JSON
 * result, or a CNI error JSON whose code is not 999. The normal run replays
 * {@code src/test/resources/io/jipam/server/cni/CniRequestFuzzTestInputs/}; {@code JAZZER_FUZZ=1}
 * fuzzes. The {@code jipam.v1} side is {@code io.jipam.server.grpc.GrpcRequestFuzzTest}.
 */
class CniRequestFuzzTest {
  private final CallLog log = new CallLog(new PrintStream(new ByteArrayOutputStream()), false);
  private final CniEndpoint cni = new CniEndpoint(MemoryStores.open(), new PoolRegistry(), Runnable::run, log,
      new Metrics());

  @FuzzTest(maxDuration = "30s")
  void cniEndpointRun_anyBody_resultOrCniError(byte[] body) {
    CniEndpoint.Reply reply = cni.run(body);
    if (reply.exit() == 0) {
      if (reply.output().length > 0) {
        JsonFields.asObject(JsonReader.parse(reply.output()), "result");
      }
    } else {
      Map<String, Object> error = JsonFields.asObject(JsonReader.parse(reply.output()), "error");
      assertNotEquals(999L, error.get("code"), reply.summary());
    }
  }
}
