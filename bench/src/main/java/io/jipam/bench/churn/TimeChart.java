package io.jipam.bench.churn;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.renderer.xy.XYStepRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * A chart of named series over time (seconds on x), as steps (counts that change at instants) or
 * as dots, saved as PNG. A series may be drawn dashed in the colour of another ({@link #putDashed}),
 * e.g. the pods waiting next to the pods holding an address of one backend. Values that cannot
 * be drawn (NaN; on a log axis 0 or less) are left out. Not thread-safe.
 */
final class TimeChart {
  private static final Color[] PALETTE = {
      new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
      new Color(0x9467bd), new Color(0x8c564b)};

  private final String title;
  private final String yLabel;
  private final boolean logY;
  private final boolean dots;
  private final XYSeriesCollection data = new XYSeriesCollection();
  /** Series drawn dashed, to the series whose colour they take. */
  private final java.util.Map<String, String> dashed = new java.util.HashMap<>();

  TimeChart(String title, String yLabel, boolean logY, boolean dots) {
    this.title = title;
    this.yLabel = yLabel;
    this.logY = logY;
    this.dots = dots;
  }

  TimeChart put(String series, double seconds, double value) {
    if (Double.isNaN(value) || (logY && value <= 0)) {
      return this;
    }
    int index = data.getSeriesIndex(series);
    XYSeries s = index >= 0 ? data.getSeries(index) : null;
    if (s == null) {
      s = new XYSeries(series, false, true);
      data.addSeries(s);
    }
    s.add(seconds, value);
    return this;
  }

  /** Like {@link #put}, the series drawn dashed in the colour of {@code colourOf}. */
  TimeChart putDashed(String series, String colourOf, double seconds, double value) {
    dashed.put(series, colourOf);
    return put(series, seconds, value);
  }

  void savePng(Path file, int width, int height) throws IOException {
    System.setProperty("java.awt.headless", "true");
    JFreeChart chart = ChartFactory.createXYLineChart(title, "seconds since the run started", yLabel, data,
        PlotOrientation.VERTICAL, true, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    XYPlot plot = chart.getXYPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(new Color(0xcccccc));
    plot.setDomainGridlinePaint(new Color(0xeeeeee));
    if (logY) {
      LogAxis axis = new LogAxis(yLabel);
      axis.setBase(10);
      axis.setTickUnit(new NumberTickUnit(1));
      axis.setNumberFormatOverride(new DecimalFormat("#,##0.###", DecimalFormatSymbols.getInstance(Locale.ROOT)));
      axis.setMinorTickCount(10);
      axis.setMinorTickMarksVisible(true);
      axis.setSmallestValue(1e-3);
      plot.setRangeAxis(axis);
    }
    XYLineAndShapeRenderer renderer = dots ? new XYLineAndShapeRenderer(false, true) : new XYStepRenderer();
    java.util.Map<String, Color> colours = new java.util.HashMap<>();
    int next = 0;
    for (int i = 0; i < data.getSeriesCount(); i++) {
      String name = (String) data.getSeriesKey(i);
      if (!dashed.containsKey(name)) {
        colours.put(name, PALETTE[next++ % PALETTE.length]);
      }
    }
    for (int i = 0; i < data.getSeriesCount(); i++) {
      String name = (String) data.getSeriesKey(i);
      String base = dashed.get(name);
      Color colour = colours.getOrDefault(base != null ? base : name, PALETTE[i % PALETTE.length]);
      renderer.setSeriesPaint(i, colour);
      renderer.setSeriesStroke(i, base == null ? new BasicStroke(2.0f)
          : new BasicStroke(1.4f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
      renderer.setSeriesShapesVisible(i, dots);
      if (dots) {
        renderer.setSeriesShape(i, new java.awt.geom.Ellipse2D.Double(-2.5, -2.5, 5, 5));
      }
    }
    plot.setRenderer(renderer);
    ChartUtils.saveChartAsPNG(file.toFile(), chart, width, height);
  }
}
