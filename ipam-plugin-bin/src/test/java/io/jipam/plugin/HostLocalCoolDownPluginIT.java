package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.cni.JsonFields;
import io.jipam.core.cni.JsonReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reuse cool-down (issue 22) through the real plugin, one process per call as a runtime execs
 * it, on the file store: a pool of three addresses in lowest-free order with {@code
 * "reuseDelaySeconds": 3600}. A released address is not handed to another attachment while another
 * is free (lowest-free would otherwise pick it); when only cooling addresses are left, the ADD
 * succeeds with the one released first (not the lowest), and the plugin's log says {@code
 * origin=COOLED}; with every address allocated the next ADD is code 100 and writes nothing.
 */
class HostLocalCoolDownPluginIT {
  @TempDir Path tmp;

  private String conf() {
    return ("{'cniVersion':'1.0.0','name':'cool','ipam':{'type':'jipam','dataDir':'" + tmp.resolve("data")
        + "','logFile':'" + tmp.resolve("plugin.log") + "','order':'lowest-free','reuseDelaySeconds':3600,"
        + "'ranges':[[{'subnet':'198.18.63.0/24','rangeStart':'198.18.63.10','rangeEnd':'198.18.63.12'}]]}}")
        .replace('\'', '"');
  }

  private CniExec.Result call(String command, String container) {
    return CniExec.run(CniExec.JIPAM, CniExec.env(command, container, "eth0", "/var/run/netns/x"), conf());
  }

  /** ADD of {@code container}: its address (without prefix length). */
  private String add(String container) {
    CniExec.Result r = call("ADD", container);
    assertEquals(0, r.exit(), () -> "ADD " + container + ": " + r);
    Map<String, Object> result = JsonFields.asObject(JsonReader.parse(r.stdout().getBytes(StandardCharsets.UTF_8)), "result");
    String address = (String) JsonFields.asObject(((List<?>) result.get("ips")).get(0), "ips[0]").get("address");
    return address.substring(0, address.indexOf('/'));
  }

  private void del(String container) {
    CniExec.Result r = call("DEL", container);
    assertEquals(0, r.exit(), () -> "DEL " + container + ": " + r);
  }

  private String logOf(String container) throws Exception {
    return Files.readAllLines(tmp.resolve("plugin.log")).stream().filter(l -> l.contains("ADD " + container + "/eth0 "))
        .reduce((a, b) -> b).orElseThrow(() -> new AssertionError("no log line for ADD " + container));
  }

  @Test
  void add_onlyCoolingAddressesLeft_getsTheLongestCooledLoggedAsCooledElseAFreeOne() throws Exception {
    assertTrue(Files.isExecutable(CniExec.JIPAM), CniExec.JIPAM + " is missing: build with ./mvnw package");
    assertEquals("198.18.63.10", add("a"));
    assertEquals("198.18.63.11", add("b"));
    del("b"); // .11 cools (released first)
    assertEquals("198.18.63.12", add("c"), "lowest-free skips the cooling .11 while .12 is free");
    assertTrue(logOf("c").contains(" ok origin=FREE"), logOf("c"));
    del("a"); // .10 cools, released after .11
    String cooled = add("d");
    assertEquals("198.18.63.11", cooled, "only cooling addresses left: the one that has cooled longest, not the lowest");
    assertTrue(logOf("d").contains(" ok origin=COOLED"), logOf("d"));
    assertEquals("198.18.63.10", add("e"));
    assertTrue(logOf("e").contains(" ok origin=COOLED"), logOf("e"));

    Path data = tmp.resolve("data");
    Map<String, String> before = HostileInputIT.snapshot(data);
    CniExec.Result exhausted = call("ADD", "f");
    assertNotEquals(0, exhausted.exit(), exhausted::toString);
    assertTrue(exhausted.stdout().contains("\"code\": 100"), exhausted::toString);
    assertEquals(before, HostileInputIT.snapshot(data), "the refused ADD wrote nothing");
  }
}
