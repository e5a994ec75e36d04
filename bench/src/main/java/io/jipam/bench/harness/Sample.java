package io.jipam.bench.harness;

import java.util.Objects;

/**
 * One raw measurement, one row of {@code samples.csv}.
 *
 * @param scenario the scenario that took it ({@code plugin})
 * @param workload the case inside the scenario, {@code key=value} pairs joined by {@code ;}
 *     ({@code allocations=1000;concurrency=1})
 * @param subject what was measured: jipam or a peer ({@code jipam}, {@code host-local})
 * @param operation the operation ({@code ADD}, {@code pair})
 * @param round the round it belongs to, from 0
 * @param metric {@code wall}, {@code cpu}, {@code throughput}
 * @param unit the unit of {@code value} ({@code ms}, {@code ns}, {@code ops/s})
 * @param calls how many calls {@code value} covers: 1 for one call; a CPU total over a batch of
 *     calls names their count, so a per-call figure is the sum of values over the sum of calls
 * @param value the figure
 */
public record Sample(String scenario, String workload, String subject, String operation, int round,
    String metric, String unit, int calls, double value) {

  /** The CSV header, in column order. */
  public static final String CSV_HEADER = "scenario,workload,subject,operation,round,metric,unit,calls,value";

  public Sample {
    Objects.requireNonNull(scenario, "scenario");
    Objects.requireNonNull(workload, "workload");
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(operation, "operation");
    Objects.requireNonNull(metric, "metric");
    Objects.requireNonNull(unit, "unit");
    if (round < 0) {
      throw new IllegalArgumentException("round must be >= 0, got " + round);
    }
    if (calls < 1) {
      throw new IllegalArgumentException("calls must be >= 1, got " + calls);
    }
    if (!Double.isFinite(value)) {
      throw new IllegalArgumentException("value must be finite, got " + value + " for " + subject + " " + operation);
    }
  }

  /** This sample as one CSV line (no line break); fields with a comma or quote are quoted. */
  public String toCsv() {
    return String.join(",", csv(scenario), csv(workload), csv(subject), csv(operation),
        Integer.toString(round), csv(metric), csv(unit), Integer.toString(calls), Double.toString(value));
  }

  private static String csv(String field) {
    if (field.indexOf(',') < 0 && field.indexOf('"') < 0 && field.indexOf('\n') < 0) {
      return field;
    }
    return '"' + field.replace("\"", "\"\"") + '"';
  }
}
