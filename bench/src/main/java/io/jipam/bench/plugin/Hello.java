package io.jipam.bench.plugin;

/** The JVM's floor: a main that prints a line. Copied alone into a jar by {@link PluginScenario}. */
public final class Hello {
  private Hello() {}

  public static void main(String[] args) {
    System.out.println("hello");
  }
}
