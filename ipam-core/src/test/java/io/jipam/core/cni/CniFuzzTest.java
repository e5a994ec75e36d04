package io.jipam.core.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.memory.MemoryStores;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Coverage-guided fuzzing (Jazzer) of what the plugin reads and writes: the JSON reader, the
 * network config, {@code CNI_ARGS}, and a whole CNI call (environment + stdin) through the handler
 * on an in-memory store, which exercises the result encoder of every cniVersion. The only allowed
 * outcomes are a valid result or a clean {@link IpamException} with a code other than 999 whose CNI
 * error JSON reads back; anything else (another exception, an error, a hang) is a finding.
 *
 * <p>The normal test run replays the inputs under {@code
 * src/test/resources/io/jipam/core/cni/CniFuzzTestInputs/<method>/}; {@code JAZZER_FUZZ=1} fuzzes
 * (see docs/reliability.md), and every finding is kept there as a regression input.
 */
class CniFuzzTest {
  private static final List<String> COMMANDS = List.of("ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", "BOGUS", "");

  @FuzzTest(maxDuration = "30s")
  void jsonTreeParse_anyBytes_valueOrDecodeError(byte[] data) {
    try {
      JsonReader.parse(data);
    } catch (IpamException e) {
      clean(e);
    }
  }

  @FuzzTest(maxDuration = "30s")
  void networkConfigFrom_anyBytes_configOrCniError(byte[] data) {
    try {
      NetworkConfig config = NetworkConfig.from(JsonReader.parse(data));
      assertNotNull(config.ipam().pool());
    } catch (IpamException e) {
      clean(e);
    }
  }

  @FuzzTest(maxDuration = "30s")
  void cniArgsParse_anyText_argsOrCniError(FuzzedDataProvider data) {
    String text = data.consumeRemainingAsString();
    try {
      assertNotNull(CniArgs.parse(text));
    } catch (IpamException e) {
      clean(e);
    }
  }

  /** A whole call: the environment and stdin from the fuzzer, then ADD's result read back. */
  @FuzzTest(maxDuration = "60s")
  void handle_anyEnvironmentAndConfig_resultOrCniError(FuzzedDataProvider data) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", COMMANDS.get(data.consumeInt(0, COMMANDS.size() - 1)));
    env.put("CNI_CONTAINERID", data.consumeString(80));
    env.put("CNI_IFNAME", data.consumeString(20));
    env.put("CNI_NETNS", "/var/run/netns/x");
    if (data.consumeBoolean()) {
      env.put("CNI_ARGS", data.consumeString(200));
    }
    byte[] stdin = data.consumeRemainingAsBytes();
    String version = null;
    try (IpamStore store = MemoryStores.open()) {
      CniEnvironment environment = CniEnvironment.from(env);
      Object parsed = JsonReader.parse(stdin);
      version = NetworkConfig.versionText(parsed);
      NetworkConfig config = NetworkConfig.from(parsed);
      byte[] out = CniHandler.handle(environment, config, store);
      if (environment.command() == CniCommand.ADD) {
        Map<String, Object> result = JsonFields.asObject(JsonReader.parse(out), "result");
        assertEquals(config.ipam().pool().rangeSets().size(), ((List<?>) result.get("ips")).size(),
            new String(out, StandardCharsets.UTF_8));
        assertTrue(java.util.Arrays.equals(out, CniHandler.handle(environment, config, store)),
            "a repeated ADD returns the same result");
      }
    } catch (IpamException e) {
      clean(e);
      Map<String, Object> error = JsonFields.asObject(JsonReader.parse(CniJson.error(version, e)), "error");
      assertEquals((long) e.code().cniCode(), error.get("code"));
    }
  }

  /** A clean error: a specific code (never 999 for an input) and a message. */
  static void clean(IpamException e) {
    assertNotEquals(ErrorCode.INTERNAL, e.code(), () -> "999 for an input: " + e);
    assertNotNull(e.getMessage());
    assertFalse(e.getMessage().isBlank());
  }
}
