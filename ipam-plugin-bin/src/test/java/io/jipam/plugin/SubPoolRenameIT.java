package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.testkit.JipamdProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sub-pool renamed while it holds addresses, on the file store, through the built plugin: the
 * runtime of some pods still uses the old config (direct mode, one process per call) while new
 * calls with the new config go through the shim to a jipamd on the same data dir. The two pools
 * of the network never hold one address, a request for an old pod's address is refused naming
 * the pool that holds it, and a DEL with either config still releases in the old pool.
 */
class SubPoolRenameIT {
  private static final String SUBNET = "198.18.62.0/28"; // .2 to .14 handed out: 13 addresses

  @TempDir Path tmp;

  /** Network {@code ren} whose one sub-pool {@code sub} takes every pod; daemon mode on {@code socket} when not null. */
  private String conf(String sub, Path socket) {
    return ("{'cniVersion':'1.0.0','name':'ren','ipam':{'type':'jipam','dataDir':'" + tmp.resolve("data") + "',"
        + (socket == null ? "" : "'daemon':{'socket':'" + socket + "'},")
        + "'subPools':[{'name':'" + sub + "','ranges':[[{'subnet':'" + SUBNET + "'}]]}]}}").replace('\'', '"');
  }

  private static CniExec.Result call(Path plugin, String command, String container, String conf, String args) {
    Map<String, String> env = CniExec.env(command, container, "eth0", "/var/run/netns/" + container);
    if (args != null) {
      env.put("CNI_ARGS", args);
    }
    return CniExec.run(plugin, env, conf);
  }

  /** The addresses with a file in the pool's directory. */
  private Set<String> held(String pool) throws IOException {
    Path dir = tmp.resolve("data").resolve(pool);
    Set<String> out = new HashSet<>();
    if (Files.isDirectory(dir)) {
      try (Stream<Path> files = Files.list(dir)) {
        files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("198.18.")).forEach(out::add);
      }
    }
    return out;
  }

  @Test
  void add_oldAndNewConfigAtOnceAfterRename_neverOneAddressInBothPools() throws Exception {
    assertTrue(Files.isExecutable(CniExec.JIPAM_JVM), CniExec.JIPAM_JVM + " is missing: build with ./mvnw package");
    String before = conf("db", null);
    for (int i = 0; i < 3; i++) {
      CniExec.Result r = call(CniExec.JIPAM_JVM, "ADD", "old" + i, before, null);
      assertEquals(0, r.exit(), r::toString);
    }
    Set<String> first = held("ren+db");
    assertEquals(3, first.size(), first::toString);

    Path socket = tmp.resolve("jipamd.sock");
    JipamdProcess jipamd = CniExec.fileJipamd(socket, tmp.resolve("data"));
    try {
      String after = conf("database", socket);
      // four callers on the old config (direct), four on the new one (daemon mode through the
      // shim), three ADDs each: 24 asked, 10 left in the range
      List<Future<List<CniExec.Result>>> runs = new ArrayList<>();
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        for (int t = 0; t < 8; t++) {
          boolean old = t % 2 == 0;
          int id = t;
          runs.add(pool.submit(() -> {
            List<CniExec.Result> results = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
              results.add(old ? call(CniExec.JIPAM_JVM, "ADD", "o" + id + "-" + k, before, null)
                  : call(CniExec.JIPAM, "ADD", "n" + id + "-" + k, after, null));
            }
            return results;
          }));
        }
        int ok = 0;
        for (Future<List<CniExec.Result>> f : runs) {
          for (CniExec.Result r : f.get()) {
            if (r.exit() == 0) {
              ok++;
            } else {
              assertTrue(r.stdout().replace(" ", "").contains("\"code\":100"),
                  "only an exhausted range may refuse: " + r);
            }
          }
        }
        assertEquals(10, ok, "the range's ten free addresses, each once");
      } finally {
        pool.shutdownNow();
      }
      Set<String> old = held("ren+db");
      Set<String> renamed = held("ren+database");
      Set<String> both = new HashSet<>(old);
      both.retainAll(renamed);
      assertEquals(Set.of(), both, "in both pools; old " + old + ", new " + renamed);
      assertEquals(13, old.size() + renamed.size(), "old " + old + ", new " + renamed);
      assertTrue(old.containsAll(first), "the first pods keep theirs: " + old);

      String taken = first.iterator().next();
      CniExec.Result asked = call(CniExec.JIPAM, "ADD", "asks", after, "IgnoreUnknown=1;IP=" + taken);
      assertNotEquals(0, asked.exit(), asked::toString);
      assertTrue(asked.stdout().contains("requested address " + taken + " is already allocated to ")
          && asked.stdout().contains(" in pool ren+db of network ren"), asked::toString);

      String owner = null;
      for (int i = 0; i < 3 && owner == null; i++) {
        if (Files.readString(tmp.resolve("data/ren+db").resolve(taken)).startsWith("old" + i)) {
          owner = "old" + i;
        }
      }
      CniExec.Result del = call(CniExec.JIPAM_JVM, "DEL", owner, before, null);
      assertEquals(0, del.exit(), del::toString);
      CniExec.Result now = call(CniExec.JIPAM, "ADD", "asks", after, "IgnoreUnknown=1;IP=" + taken);
      assertEquals(0, now.exit(), now::toString);
      assertTrue(held("ren+database").contains(taken), held("ren+database")::toString);

      // the runtime's DEL of an old pod with the new config (a runtime that does not keep the
      // config of the ADD) still releases in the old pool
      String other = "old0".equals(owner) ? "old1" : "old0";
      Set<String> oldBefore = held("ren+db");
      CniExec.Result delNew = call(CniExec.JIPAM, "DEL", other, after, null);
      assertEquals(0, delNew.exit(), delNew::toString);
      assertEquals(oldBefore.size() - 1, held("ren+db").size(), "released in ren+db: " + held("ren+db"));
    } finally {
      jipamd.stop();
    }
  }
}
