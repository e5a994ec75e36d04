package io.jipam.server;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.testkit.Exec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

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

  static Result run(String command, String containerId, String ifname, String config) {
    Exec.Result r = Exec.cni(List.of(), HOST_LOCAL, Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", containerId,
        "CNI_IFNAME", ifname, "CNI_NETNS", "/var/run/netns/jipam-none", "CNI_PATH", "/usr/lib/cni"),
        config.getBytes(StandardCharsets.UTF_8));
    return new Result(r.exit(), r.stdout() + r.stderr());
  }
}
