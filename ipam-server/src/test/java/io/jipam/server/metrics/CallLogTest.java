package io.jipam.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * A log line carries clients' values: a newline in one cannot forge a second line, an escape
 * sequence cannot reach the terminal, and a megabyte value makes a bounded line.
 */
class CallLogTest {
  @Test
  void call_hostileValues_oneEscapedBoundedLine() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CallLog log = new CallLog(new PrintStream(bytes, true, StandardCharsets.UTF_8), true);
    log.call("CNI", null, "ADD pool=p\n2026-12-06T00:00:00Z call method=Release pool=prod outcome=ok\u001b[2J", System.nanoTime());
    log.call("CNI", null, "ADD pool=" + "x".repeat(1_000_000), System.nanoTime());
    log.info("a value\rwith a carriage return");
    String text = bytes.toString(StandardCharsets.UTF_8);
    String[] lines = text.split("\n");
    assertEquals(3, lines.length, text.length() > 2000 ? text.substring(0, 2000) : text);
    assertTrue(lines[0].contains("\\x0a2026-12-06T00:00:00Z call method=Release") && lines[0].contains("\\x1b[2J")
        && !lines[0].contains("\u001b"), lines[0]);
    assertTrue(lines[1].length() < CallLog.MAX_LINE + 100 && lines[1].contains("characters)"), lines[1].length() + "");
    assertTrue(lines[2].contains("\\x0d") && !lines[2].contains("\r"), lines[2]);
  }

  @Test
  void call_answeredGiven_answerTimeBesideTheDuration() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CallLog log = new CallLog(new PrintStream(bytes, true, StandardCharsets.UTF_8), true);
    long start = System.nanoTime() - 5_000_000;
    log.call("CNI", null, "ADD pool=p outcome=ok", start, start + 2_000_000);
    log.call("CNI", null, "DEL pool=p outcome=ok", start);
    String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
    java.util.regex.Matcher m = java.util.regex.Pattern.compile(" answer_us=(\\d+) duration_us=(\\d+)$").matcher(lines[0]);
    assertTrue(m.find(), lines[0]);
    assertEquals(2000, Long.parseLong(m.group(1)), lines[0]);
    assertTrue(Long.parseLong(m.group(2)) >= 5000, lines[0]);
    assertTrue(!lines[1].contains("answer_us") && lines[1].contains(" outcome=ok duration_us="), lines[1]);
  }
}
