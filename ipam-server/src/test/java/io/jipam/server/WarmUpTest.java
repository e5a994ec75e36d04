package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.server.metrics.CallLog;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** jipamd's start-up warm-up: real calls on a scratch server, bounded, leaving nothing behind. */
@Timeout(120)
class WarmUpTest {
  static List<Path> scratchDirs() throws Exception {
    try (Stream<Path> all = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return all.filter(p -> p.getFileName().toString().startsWith("jipamd-warm-up")).toList();
    }
  }

  @Test
  void run_fewPairs_answersEveryCallAndLeavesNoScratchDir() throws Exception {
    List<Path> before = scratchDirs();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    WarmUp.Done done = WarmUp.run(5, Duration.ofSeconds(60), new CallLog(new PrintStream(err, true,
        StandardCharsets.UTF_8), true));
    assertEquals(5, done.pairs(), "every pair answered exit 0; log: " + err);
    assertEquals("", err.toString(StandardCharsets.UTF_8), "nothing logged: no failure, and the scratch server is quiet");
    assertTrue(before.containsAll(scratchDirs()), "the scratch dir is deleted: " + scratchDirs());
  }

  @Test
  void run_boundAlreadyPassed_makesNoCall() {
    assertEquals(0, WarmUp.run(5, Duration.ZERO, CallLog.quiet()).pairs());
  }

  @Test
  void run_zeroPairs_startsNothing() throws Exception {
    List<Path> before = scratchDirs();
    WarmUp.Done done = WarmUp.run(0, Duration.ofSeconds(60), CallLog.quiet());
    assertEquals(new WarmUp.Done(0, Duration.ZERO), done);
    assertEquals(before, scratchDirs());
  }

  @Test
  void withPrevResult_eachPair_aDelConfigOfItsOwnWithARuntimesPrevResult() {
    String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"warm-up\",\"ipam\":{\"type\":\"jipam\","
        + "\"subnet\":\"198.18.0.0/24\"}}";
    io.jipam.core.cni.NetworkConfig first = io.jipam.core.cni.NetworkConfig.from(
        io.jipam.core.cni.JsonReader.parse(WarmUp.withPrevResult(conf, 0).getBytes(StandardCharsets.UTF_8)));
    io.jipam.core.cni.NetworkConfig second = io.jipam.core.cni.NetworkConfig.from(
        io.jipam.core.cni.JsonReader.parse(WarmUp.withPrevResult(conf, 1).getBytes(StandardCharsets.UTF_8)));

    assertEquals("warm-up", first.name());
    assertEquals("198.18.0.2/24", ((java.util.Map<?, ?>) ((List<?>) first.prevResult().get("ips")).get(0)).get("address"));
    assertTrue(!WarmUp.withPrevResult(conf, 0).equals(WarmUp.withPrevResult(conf, 1)) && second.prevResult() != null,
        "each DEL's config is its own");
  }
}
