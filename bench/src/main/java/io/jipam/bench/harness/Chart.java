package io.jipam.bench.harness;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.awt.geom.Ellipse2D;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.LineAndShapeRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.renderer.xy.XYStepRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The bench's one chart helper: named series saved as PNG, in one look (palette, fonts, grid, log
 * axis labelled in plain numbers). Two shapes of data:
 *
 * <ul>
 *   <li>over categories (fills, allocation counts, designs), {@link Kind#LINES} or grouped
 *       {@link Kind#BARS}, filled with {@link #put(String, String, double)}: a value that could not
 *       be measured (NaN) leaves a gap, on a log axis so does a value of 0 or less;
 *   <li>over a numeric x such as seconds, {@link Kind#STEPS} (counts that change at instants) or
 *       {@link Kind#DOTS}, filled with {@link #put(String, double, double)}: values that cannot be
 *       drawn are left out. A series may be drawn dashed in the colour of another ({@link
 *       #putDashed}), e.g. the pods waiting next to the pods holding an address.
 * </ul>
 *
 * Then {@link #savePng}. Not thread-safe. Needs no display ({@code java.awt.headless} is set
 * before drawing).
 */
public final class Chart {
  /** How the series are drawn. */
  public enum Kind {
    /** Lines over categories. */
    LINES,
    /** Grouped bars over categories. */
    BARS,
    /** Steps over a numeric x. */
    STEPS,
    /** Dots over a numeric x. */
    DOTS;

    boolean numericX() {
      return this == STEPS || this == DOTS;
    }
  }

  /** The y axis. */
  public enum Scale {
    LINEAR,
    /** Logarithmic, labelled in plain numbers; values of 0 or less cannot be drawn on it. */
    LOG
  }

  private static final Color[] PALETTE = {
      new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
      new Color(0x9467bd), new Color(0x8c564b), new Color(0x7f7f7f), new Color(0x17becf)};

  private final Kind kind;
  private final String title;
  private final String xLabel;
  private final String yLabel;
  private final boolean logY;
  private final Map<String, Map<String, Double>> series = new LinkedHashMap<>();
  private final XYSeriesCollection points = new XYSeriesCollection();
  /** Series drawn dashed, to the series whose colour they take. */
  private final Map<String, String> dashed = new HashMap<>();

  public Chart(Kind kind, String title, String xLabel, String yLabel, Scale y) {
    this.kind = kind;
    this.title = title;
    this.xLabel = xLabel;
    this.yLabel = yLabel;
    this.logY = y == Scale.LOG;
  }

  /**
   * Sets the value of {@code seriesName} at {@code category} (LINES, BARS); series and categories
   * keep the order of first use.
   */
  public Chart put(String seriesName, String category, double value) {
    requireCategories();
    series.computeIfAbsent(seriesName, k -> new LinkedHashMap<>()).put(category, value);
    return this;
  }

  /** Adds the point ({@code x}, {@code value}) to {@code seriesName} (STEPS, DOTS); left out when it cannot be drawn. */
  public Chart put(String seriesName, double x, double value) {
    requireNumericX();
    if (!drawable(value)) {
      return this;
    }
    int index = points.getSeriesIndex(seriesName);
    XYSeries s = index >= 0 ? points.getSeries(index) : null;
    if (s == null) {
      s = new XYSeries(seriesName, false, true);
      points.addSeries(s);
    }
    s.add(x, value);
    return this;
  }

  /** Like {@link #put(String, double, double)}, the series drawn dashed in the colour of {@code colourOf}. */
  public Chart putDashed(String seriesName, String colourOf, double x, double value) {
    dashed.put(seriesName, colourOf);
    return put(seriesName, x, value);
  }

  private void requireCategories() {
    if (kind.numericX()) {
      throw new IllegalStateException("a " + kind + " chart takes numeric x values");
    }
  }

  private void requireNumericX() {
    if (!kind.numericX()) {
      throw new IllegalStateException("a " + kind + " chart takes categories");
    }
  }

  /** Whether any series has a value that can be drawn. */
  public boolean isEmpty() {
    return kind.numericX() ? points.getSeriesCount() == 0
        : series.values().stream().flatMap(m -> m.values().stream()).noneMatch(this::drawable);
  }

  private boolean drawable(double v) {
    return !Double.isNaN(v) && (!logY || v > 0);
  }

  /** Draws the chart into {@code file} (PNG, width × height pixels). */
  public void savePng(Path file, int width, int height) throws IOException {
    System.setProperty("java.awt.headless", "true");
    JFreeChart chart = kind.numericX() ? overX() : overCategories();
    chart.setBackgroundPaint(Color.WHITE);
    chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    ChartUtils.saveChartAsPNG(file.toFile(), chart, width, height);
  }

  private JFreeChart overCategories() {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    series.forEach((name, values) -> values.forEach((category, v) -> {
      data.addValue(drawable(v) ? Double.valueOf(v) : null, name, category);
    }));
    JFreeChart chart = kind == Kind.LINES
        ? ChartFactory.createLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false)
        : ChartFactory.createBarChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false);
    CategoryPlot plot = chart.getCategoryPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(new Color(0xcccccc));
    plot.setDomainGridlinesVisible(false);
    if (logY) {
      plot.setRangeAxis(logAxis());
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
    return chart;
  }

  private JFreeChart overX() {
    JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, points, PlotOrientation.VERTICAL, true,
        false, false);
    XYPlot plot = chart.getXYPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(new Color(0xcccccc));
    plot.setDomainGridlinePaint(new Color(0xeeeeee));
    if (logY) {
      plot.setRangeAxis(logAxis());
    }
    boolean dots = kind == Kind.DOTS;
    XYLineAndShapeRenderer renderer = dots ? new XYLineAndShapeRenderer(false, true) : new XYStepRenderer();
    Map<String, Color> colours = new HashMap<>();
    int next = 0;
    for (int i = 0; i < points.getSeriesCount(); i++) {
      String name = (String) points.getSeriesKey(i);
      if (!dashed.containsKey(name)) {
        colours.put(name, PALETTE[next++ % PALETTE.length]);
      }
    }
    for (int i = 0; i < points.getSeriesCount(); i++) {
      String name = (String) points.getSeriesKey(i);
      String base = dashed.get(name);
      renderer.setSeriesPaint(i, colours.getOrDefault(base != null ? base : name, PALETTE[i % PALETTE.length]));
      renderer.setSeriesStroke(i, base == null ? new BasicStroke(2.0f)
          : new BasicStroke(1.4f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
      renderer.setSeriesShapesVisible(i, dots);
      if (dots) {
        renderer.setSeriesShape(i, new Ellipse2D.Double(-2.5, -2.5, 5, 5));
      }
    }
    plot.setRenderer(renderer);
    return chart;
  }

  /** A log axis with ticks at powers of ten labelled as plain numbers (1, 10, 100) and minor ticks between. */
  private LogAxis logAxis() {
    LogAxis axis = new LogAxis(yLabel);
    axis.setBase(10);
    axis.setTickUnit(new NumberTickUnit(1));
    axis.setNumberFormatOverride(new DecimalFormat("#,##0.###", DecimalFormatSymbols.getInstance(Locale.ROOT)));
    axis.setMinorTickCount(10);
    axis.setMinorTickMarksVisible(true);
    axis.setSmallestValue(1e-3);
    return axis;
  }
}
