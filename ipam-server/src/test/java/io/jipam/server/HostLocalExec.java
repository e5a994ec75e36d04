package io.jipam.server;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Runs the reference host-local (/usr/lib/cni/host-local) as a runtime does: env, network config on stdin. */
final class HostLocalExec {
  static final Path HOST_LOCAL = Path.of("/usr/lib/cni/host-local");

  private HostLocalExec() {}

  record Result(int exit, String out) {}

  static void assumePresent() {
    boolean ci = "true".equals(System.getenv("CI"));
    if (ci && !Files.isExecutable(HOST_LOCAL)) {
      throw new IllegalStateException("apt-get install containernetworking-plugins");
    }
    assumeTrue(Files.isExecutable(HOST_LOCAL), "no reference host-local in /usr/lib/cni");
  }

  static Result run(String command, String containerId, String ifname, String config) throws IOException,
      InterruptedException {
    ProcessBuilder b = new ProcessBuilder(HOST_LOCAL.toString());
    b.environment().clear();
    b.environment().put("CNI_COMMAND", command);
    b.environment().put("CNI_CONTAINERID", containerId);
    b.environment().put("CNI_IFNAME", ifname);
    b.environment().put("CNI_NETNS", "/var/run/netns/jipam-none");
    b.environment().put("CNI_PATH", "/usr/lib/cni");
    b.redirectErrorStream(true);
    Process p = b.start();
    p.getOutputStream().write(config.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(20, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("host-local " + command + " hung");
    }
    return new Result(p.exitValue(), out);
  }
}
