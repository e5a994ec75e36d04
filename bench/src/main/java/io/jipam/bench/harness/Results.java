package io.jipam.bench.harness;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The samples of one run: kept in memory for the summary and appended to {@code samples.csv} as
 * they arrive, so an interrupted run still leaves every sample taken so far on disk.
 *
 * <p>Thread-safe: scenarios that measure from several threads add concurrently.
 */
public final class Results implements AutoCloseable {
  private final List<Sample> samples = new ArrayList<>();
  private final BufferedWriter csv;

  /** Creates {@code file} (replacing it) with the CSV header. */
  public Results(Path file) throws IOException {
    this.csv = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
    csv.write(Sample.CSV_HEADER);
    csv.newLine();
  }

  /** Records one sample. */
  public synchronized void add(Sample sample) {
    samples.add(sample);
    try {
      csv.write(sample.toCsv());
      csv.newLine();
    } catch (IOException e) {
      throw new UncheckedIOException("writing samples.csv", e);
    }
  }

  /** The samples that match, in the order they were added. */
  public synchronized List<Sample> select(Predicate<Sample> filter) {
    return samples.stream().filter(filter).toList();
  }

  /** The values of the samples that match. */
  public List<Double> values(Predicate<Sample> filter) {
    return select(filter).stream().map(Sample::value).toList();
  }

  /** Writes what is buffered to disk. */
  public synchronized void flush() throws IOException {
    csv.flush();
  }

  @Override
  public synchronized void close() throws IOException {
    csv.close();
  }
}
