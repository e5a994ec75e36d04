package io.jipam.server;

import io.jipam.ctl.Jipamctl;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** jipamctl in this JVM, as its main builds it for the arguments, its output captured. */
record CtlRun(int exit, String out, String err) {
  static CtlRun of(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Jipamctl.commandLine(args);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int exit = cl.execute(args);
    return new CtlRun(exit, out.toString(), err.toString());
  }

  @Override
  public String toString() {
    return "exit " + exit + "\nout:\n" + out + "\nerr:\n" + err;
  }
}
