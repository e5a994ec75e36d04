package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin (as the runtime execs it) on the file store with {@code sticky} and {@code
 * reuseDelaySeconds}: a StatefulSet-like pod, named in {@code CNI_ARGS} as containerd passes it,
 * gets its address back after DEL with a new container ID; another pod does not; the plugin's log
 * line says why ({@code origin=}); and the calls on such a pool still load nothing the exec path
 * avoids (no lambda, no string concatenation bootstrap, no regex in jipam's classes).
 */
class HostLocalStickyPluginIT {
  @TempDir Path tmp;

  /**
   * The network config; without the log file for the class-loading check (the log line's
   * timestamp formatting loads a regex, a cost of {@code logFile} itself, not of the policy).
   */
  private String conf(boolean log) {
    return ("{'cniVersion':'1.0.0','name':'sticky','ipam':{'type':'jipam','dataDir':'" + tmp.resolve("data")
        + (log ? "','logFile':'" + tmp.resolve("plugin.log") : "") + "','ranges':[[{'subnet':'198.18.61.0/29'}]],"
        + "'sticky':{'pods':['db/web-*'],'holdSeconds':600},'reuseDelaySeconds':300}}").replace('\'', '"');
  }

  private CniExec.Result call(String command, String container, String pod, Path classLog) {
    Map<String, String> env = CniExec.env(command, container, "eth0", "/var/run/netns/x");
    String[] nsName = pod.split("/");
    env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + nsName[0] + ";K8S_POD_NAME=" + nsName[1]
        + ";K8S_POD_INFRA_CONTAINER_ID=" + container);
    if (classLog != null) {
      env.put("JIPAM_JAVA_OPTS", "-Xlog:class+load:file=" + classLog);
    }
    CniExec.Result r = CniExec.run(CniExec.JIPAM_JVM, env, conf(classLog == null));
    assertEquals(0, r.exit(), () -> command + " " + container + " " + pod + ": " + r);
    return r;
  }

  @Test
  void add_statefulSetPodAfterDel_getsItsAddressBackAndOthersDoNot() throws Exception {
    assertTrue(Files.isExecutable(CniExec.JIPAM_JVM), CniExec.JIPAM_JVM + " is missing: build with ./mvnw package");
    Path classes = tmp.resolve("classes.txt");
    CniExec.Result first = call("ADD", "c1", "db/web-0", null);
    assertTrue(first.stdout().contains("\"198.18.61.2/29\""), first.stdout());
    call("DEL", "c1", "db/web-0", null);
    CniExec.Result other = call("ADD", "o1", "other/app-0", null);
    assertFalse(other.stdout().contains("\"198.18.61.2/29\""), "another pod got the held address: " + other.stdout());
    CniExec.Result again = call("ADD", "c2", "db/web-0", null);
    assertTrue(again.stdout().contains("\"198.18.61.2/29\""), "the pod's address back: " + again.stdout());
    List<String> log = Files.readAllLines(tmp.resolve("plugin.log"));
    assertTrue(log.get(0).contains("ADD c1/eth0 network=sticky ok origin=FREE"), log.get(0));
    assertTrue(log.get(log.size() - 1).contains("ADD c2/eth0 network=sticky ok origin=STICKY"), String.join("\n", log));
    call("DEL", "c2", "db/web-0", null);
    CniExec.Result third = call("ADD", "c3", "db/web-0", classes);
    assertTrue(third.stdout().contains("\"198.18.61.2/29\""), "the pod's address back again: " + third.stdout());
    for (String line : Files.readAllLines(classes)) {
      boolean ours = line.contains(" io.jipam.") && (line.contains("$$Lambda") || line.contains("$$StringConcat"));
      assertFalse(ours || line.contains("java.util.regex.Pattern ") || line.contains("java.lang.invoke.StringConcatFactory "),
          "the exec path with a sticky pool loaded " + line);
    }
  }
}
