package io.jipam.bench.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** The harness's small parts: order statistics, CSV rows, the progress bar, child CPU, charts. */
@Isolated // reads the CPU of every child the JVM has reaped
class HarnessPartsTest {
  @ParameterizedTest
  @CsvSource(delimiter = ';', value = {
      "3;3.0",
      "1,2;1.5",
      "5,1,3;3.0",
      "4,1,3,2;2.5",
  })
  void median_ofValues_isTheMiddle(String values, double expected) {
    assertEquals(expected, Stats.median(parse(values)));
  }

  @ParameterizedTest
  @CsvSource(delimiter = ';', value = {
      "1,2,3,4,5,6,7,8,9,10;50;5.0",
      "1,2,3,4,5,6,7,8,9,10;99;10.0",
      "1,2,3,4,5,6,7,8,9,10;10;1.0",
      "7;99;7.0",
  })
  void percentile_nearestRank(String values, double p, double expected) {
    assertEquals(expected, Stats.percentile(parse(values), p));
  }

  @Test
  void statsOfNothing_isNaN_andRatioByZeroIsNaN() {
    assertTrue(Double.isNaN(Stats.median(List.of())));
    assertTrue(Double.isNaN(Stats.ratio(1, 0)));
    assertTrue(Double.isNaN(Stats.ratio(Double.NaN, 2)));
    assertEquals(0.5, Stats.ratio(1, 2));
  }

  @Test
  void sampleToCsv_quotesFieldsWithCommasAndQuotes() {
    Sample s = new Sample("plugin", "a=1;b=2", "x,\"y\"", "ADD", 3, "wall", "ms", 1, 1.5);
    assertEquals("plugin,a=1;b=2,\"x,\"\"y\"\"\",ADD,3,wall,ms,1,1.5", s.toCsv());
  }

  @Test
  void sample_withBadValues_isRefusedNamingThem() {
    IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
        () -> new Sample("p", "w", "jipam", "ADD", 0, "wall", "ms", 1, Double.NaN));
    assertTrue(nan.getMessage().contains("NaN"), nan.getMessage());
    IllegalArgumentException calls = assertThrows(IllegalArgumentException.class,
        () -> new Sample("p", "w", "jipam", "ADD", 0, "wall", "ms", 0, 1));
    assertTrue(calls.getMessage().contains("got 0"), calls.getMessage());
  }

  @Test
  void progressBar_drawsTaskStepsAndMessage() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (Progress progress = Progress.bar(new PrintStream(bytes, true, StandardCharsets.UTF_8))) {
      progress.start("plugin", 10);
      progress.step("round 1");
      progress.advance(4);
    }
    String drawn = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(drawn.contains("plugin"), drawn);
    assertTrue(drawn.contains("4/10"), drawn);
    assertTrue(drawn.contains("round 1"), drawn);
  }

  @Test
  void childCpu_countsAReapedChildsCpu_notThisJvms() throws Exception {
    assumeTrue(ChildCpu.available(), "no /proc/self/stat");
    double before = ChildCpu.millis();
    // a fixed amount of shell work: about 0.2 s of CPU on a 2020s core, far above the 10 ms ticks
    Process p = new ProcessBuilder("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done").start();
    assertEquals(0, p.waitFor());
    double child = ChildCpu.millis() - before;
    assertTrue(child >= 30, "the child's busy loop counted " + child + " ms");
    // this JVM's own CPU is not a child's
    double mine = ChildCpu.millis();
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long start = threads.getCurrentThreadCpuTime();
    long spin = 0;
    while (threads.getCurrentThreadCpuTime() - start < 200_000_000L) {
      spin++;
    }
    assertTrue(spin > 0);
    assertEquals(mine, ChildCpu.millis(), "this JVM's own CPU was counted as a child's");
  }

  @ParameterizedTest
  @EnumSource(Chart.Kind.class)
  void chart_eachKind_drawsAPngAndRefusesTheOtherShapeOfData(Chart.Kind kind, @TempDir Path tmp) throws Exception {
    Chart chart = new Chart(kind, "title", "x", "y", Chart.Scale.LOG);
    assertTrue(chart.isEmpty());
    if (kind == Chart.Kind.LINES || kind == Chart.Kind.BARS) {
      chart.put("a", "one", 1).put("a", "two", Double.NaN).put("b", "one", 0); // a gap, and 0 on a log axis
      assertThrows(IllegalStateException.class, () -> chart.put("a", 1.0, 1));
    } else {
      chart.put("a", 0.5, 1).put("a", 1.0, Double.NaN).putDashed("a, waiting", "a", 1.0, 10);
      assertThrows(IllegalStateException.class, () -> chart.put("a", "one", 1));
    }
    assertFalse(chart.isEmpty());
    Path png = tmp.resolve(kind + ".png");
    chart.savePng(png, 300, 200);
    BufferedImage image = ImageIO.read(png.toFile());
    assertEquals(300, image.getWidth());
    assertEquals(200, image.getHeight());
  }

  private static List<Double> parse(String values) {
    return java.util.Arrays.stream(values.split(",")).map(Double::valueOf).toList();
  }
}
