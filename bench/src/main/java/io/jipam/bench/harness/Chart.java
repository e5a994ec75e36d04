package io.jipam.bench.harness;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Locale;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.LineAndShapeRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * A chart of named series over categories (fills, allocation counts, designs), drawn as lines or
 * grouped bars and saved as PNG. Build it with {@link #put}, then {@link #savePng}. A value that
 * could not be measured (NaN) leaves a gap; on a log axis so does a value of 0 or less.
 *
 * <p>Not thread-safe. Needs no display ({@code java.awt.headless} is set before drawing).
 */
public final class Chart {
  /** How the series are drawn. */
  public enum Kind { LINES, BARS }

  private static final Color[] PALETTE = {
      new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
      new Color(0x9467bd), new Color(0x8c564b), new Color(0x7f7f7f), new Color(0x17becf)};

  private final Kind kind;
  private final String title;
  private final String xLabel;
  private final String yLabel;
  private final boolean logY;
  private final Map<String, Map<String, Double>> series = new LinkedHashMap<>();

  public Chart(Kind kind, String title, String xLabel, String yLabel, boolean logY) {
    this.kind = kind;
    this.title = title;
    this.xLabel = xLabel;
    this.yLabel = yLabel;
    this.logY = logY;
  }

  /** Sets the value of {@code seriesName} at {@code category}; series and categories keep the order of first use. */
  public Chart put(String seriesName, String category, double value) {
    series.computeIfAbsent(seriesName, k -> new LinkedHashMap<>()).put(category, value);
    return this;
  }

  /** Whether any series has a value that can be drawn. */
  public boolean isEmpty() {
    return series.values().stream().flatMap(m -> m.values().stream()).noneMatch(this::drawable);
  }

  private boolean drawable(double v) {
    return !Double.isNaN(v) && (!logY || v > 0);
  }

  /** Draws the chart into {@code file} (PNG, width × height pixels). */
  public void savePng(Path file, int width, int height) throws IOException {
    System.setProperty("java.awt.headless", "true");
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    series.forEach((name, values) -> values.forEach((category, v) -> {
      data.addValue(drawable(v) ? Double.valueOf(v) : null, name, category);
    }));
    JFreeChart chart = kind == Kind.LINES
        ? ChartFactory.createLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false)
        : ChartFactory.createBarChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    CategoryPlot plot = chart.getCategoryPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(new Color(0xcccccc));
    plot.setDomainGridlinesVisible(false);
    if (logY) {
      // ticks at powers of ten labelled as plain numbers (1, 10, 100), a minor grid between
      LogAxis axis = new LogAxis(yLabel);
      axis.setBase(10);
      axis.setTickUnit(new NumberTickUnit(1));
      axis.setNumberFormatOverride(new DecimalFormat("#,##0.###", DecimalFormatSymbols.getInstance(Locale.ROOT)));
      axis.setMinorTickCount(10);
      axis.setMinorTickMarksVisible(true);
      axis.setSmallestValue(1e-3);
      plot.setRangeAxis(axis);
      plot.setRangeMinorGridlinesVisible(true);
      plot.setRangeMinorGridlinePaint(new Color(0xeeeeee));
    }
    if (kind == Kind.LINES) {
      LineAndShapeRenderer renderer = (LineAndShapeRenderer) plot.getRenderer();
      renderer.setDefaultShapesVisible(true);
      for (int i = 0; i < data.getRowCount(); i++) {
        renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
        renderer.setSeriesStroke(i, new BasicStroke(2.2f));
      }
    } else {
      BarRenderer renderer = (BarRenderer) plot.getRenderer();
      renderer.setBarPainter(new StandardBarPainter());
      renderer.setShadowVisible(false);
      renderer.setItemMargin(0.05);
      for (int i = 0; i < data.getRowCount(); i++) {
        renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
      }
    }
    ChartUtils.saveChartAsPNG(file.toFile(), chart, width, height);
  }
}
