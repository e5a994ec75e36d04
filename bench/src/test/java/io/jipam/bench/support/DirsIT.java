package io.jipam.bench.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A work folder of {@link Dirs#temporary} is gone when the bench is stopped by a signal (Ctrl-C,
 * SIGTERM), when no scenario's {@code finally} runs: a child JVM makes one, fills it, and is
 * stopped with SIGTERM.
 */
class DirsIT {
  @Test
  void temporary_jvmStoppedBySignal_removed() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(List.of(java, "-XX:TieredStopAtLevel=1", "-Xmx32m", "-cp",
        System.getProperty("java.class.path"), DirsIT.class.getName()))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    Path made;
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      made = Path.of(out.readLine());
      assertTrue(Files.exists(made.resolve("sub/file")), made + " was not made");
      child.destroy(); // SIGTERM
      assertTrue(child.waitFor(30, TimeUnit.SECONDS));
    } finally {
      child.destroyForcibly(); // a failed assertion above leaves no child behind
    }
    assertEquals(143, child.exitValue());
    assertFalse(Files.exists(made), made + " is left");
  }

  @Test
  void deleteTree_temporary_removedAndForgotten() throws Exception {
    Path made = Dirs.temporary("jipam-dirs-test");
    Files.createDirectories(made.resolve("a/b"));
    Dirs.deleteTree(made);
    assertFalse(Files.exists(made));
  }

  /** The child: a work folder with something in it, its path on stdout, then waits to be stopped. */
  public static void main(String[] args) throws Exception {
    Path work = Dirs.temporary("jipam-dirs-test");
    Files.createDirectories(work.resolve("sub"));
    Files.writeString(work.resolve("sub/file"), "x");
    System.out.println(work);
    System.out.flush();
    Thread.sleep(TimeUnit.MINUTES.toMillis(5));
  }
}
