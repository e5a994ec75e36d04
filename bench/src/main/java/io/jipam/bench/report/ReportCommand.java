package io.jipam.bench.report;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jipam-bench report}: glue between the command line and {@link DocsReport}. */
@Command(name = "report", mixinStandardHelpOptions = true, usageHelpWidth = 100,
    description = "not a scenario: regenerates docs/benchmarks.md from a run's results directory and the prose of a "
        + "template, and copies the charts to docs/img/")
public final class ReportCommand implements Callable<Integer> {
  @Spec
  CommandLine.Model.CommandSpec spec;

  @Option(names = "--from", paramLabel = "DIR", required = true, description = "the results directory of a jipam-bench run")
  Path from;

  @Option(names = "--docs", paramLabel = "DIR", description = "the docs directory to write into (default: ${DEFAULT-VALUE})")
  Path docs = Path.of("docs");

  @Option(names = "--template", paramLabel = "FILE",
      description = "the template (default: the one in the jar, bench/src/main/resources/benchmarks-template.md)")
  Path template;

  @Override
  public Integer call() throws Exception {
    if (!Files.isDirectory(docs)) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--docs: not a directory: " + docs);
    }
    String text;
    if (template != null) {
      if (!Files.isRegularFile(template)) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--template: no such file: " + template);
      }
      text = Files.readString(template, StandardCharsets.UTF_8);
    } else {
      text = DocsReport.bundledTemplate();
    }
    DocsReport.Written written;
    try {
      written = new DocsReport(from, docs, text).write();
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    System.out.println(written.markdown());
    for (Path chart : written.charts()) {
      System.out.println(chart);
    }
    return 0;
  }
}
