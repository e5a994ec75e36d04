package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lean exec path as a tested rule, not a habit kept by comments: the real JVM plugin
 * ({@code jipam-jvm}, which the shim execs outside daemon mode) runs its
 * usual calls (ADD, CHECK, DEL, VERSION, an error, a non-ASCII interface name) with class loading
 * logged, and no call may load what the start-up tricks exist to avoid: a lambda or string
 * concatenation bootstrapped in jipam's own code, a regex, an EnumSet, or a client library the
 * host-local store does not need (jackson, jetcd, gRPC, Vert.x). The JDK's own start-up may
 * use lambdas (module bootstrap does); jipam's classes may not.
 */
class ExecPathClassesIT {
  private static final List<String> FORBIDDEN = List.of("java.util.regex.Pattern ",
      "java.lang.invoke.StringConcatFactory ", "java.util.RegularEnumSet ", "java.util.JumboEnumSet ",
      "com.fasterxml.jackson.", "io.etcd.jetcd.", "io.grpc.", "io.vertx.", "io.netty.");

  @TempDir Path tmp;

  @Test
  void pluginCalls_loadNothingTheExecPathAvoids() throws Exception {
    assertTrue(Files.isExecutable(CniExec.JIPAM_JVM), CniExec.JIPAM_JVM + " is missing: build with ./mvnw package");
    String conf = ("{'cniVersion':'1.0.0','name':'lean','ipam':{'type':'jipam','dataDir':'" + tmp.resolve("data")
        + "','ranges':[[{'subnet':'198.18.60.0/24'}],[{'subnet':'fd00:60::/64'}]],'routes':[{'dst':'0.0.0.0/0'}]}}")
        .replace('\'', '"');
    List<String[]> calls = List.of(new String[] {"ADD", "c1", "eth0", conf}, new String[] {"ADD", "c1", "eth0", conf},
        new String[] {"CHECK", "c1", "eth0", conf}, new String[] {"ADD", "c2", "\u00e9th0", conf},
        new String[] {"DEL", "c1", "eth0", conf}, new String[] {"VERSION", "c1", "eth0", ""},
        new String[] {"ADD", "c3", "eth0", "{\"cniVersion\":\"1.0.0\",\"name\":\"lean\",\"ipam\":{}}"},
        new String[] {"ADD", "c3", "a/b", conf});
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < calls.size(); i++) {
      String[] c = calls.get(i);
      Path log = tmp.resolve("classes-" + i + ".txt");
      Map<String, String> env = CniExec.env(c[0], c[1], c[2], "/var/run/netns/x");
      env.put("JIPAM_JAVA_OPTS", "-Xlog:class+load:file=" + log);
      CniExec.Result r = CniExec.run(CniExec.JIPAM_JVM, env, c[3]);
      assertEquals(i < 6 ? 0 : 1, r.exit(), () -> String.join(" ", c[0], c[1], c[2]) + ": " + r);
      List<String> loaded = Files.readAllLines(log);
      assertTrue(loaded.stream().anyMatch(l -> l.contains("io.jipam.plugin.JipamPlugin ")), "class loading is logged");
      for (int n = 0; n < loaded.size(); n++) {
        String line = loaded.get(n);
        boolean ours = line.contains(" io.jipam.") && (line.contains("$$Lambda") || line.contains("$$StringConcat"));
        if (ours || FORBIDDEN.stream().anyMatch(line::contains)) {
          // with the classes loaded just before it, which point at the code that needed it
          problems.add(c[0] + " " + c[2] + ": " + line + "\n  after: "
              + String.join("\n    ", loaded.subList(Math.max(0, n - 12), n)));
        }
      }
    }
    assertEquals(List.of(), problems);
  }
}
