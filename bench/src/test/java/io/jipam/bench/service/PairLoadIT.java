package io.jipam.bench.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.testkit.Await;
import io.jipam.testkit.JipamdProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PairLoad} against a real jipamd (memory store, every call in its log): what the load sends.
 * Not how fast anything is.
 */
class PairLoadIT {
  private static final Pattern ALLOCATE = Pattern.compile("call method=Allocate pool=\\S+ attachment=(\\S+) ");
  private static final Pattern RELEASE = Pattern.compile("call method=Release ");

  @TempDir
  Path tmp;

  /**
   * Runs after the first on one jipamd name new attachments: the etcd store answers an ADD of an
   * attachment DELeted before with a refused transaction and a retry whenever its copy of the DEL
   * marker is stale, which a load that reused its container IDs paid on almost every ADD.
   */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void run_twiceOnOneJipamd_everyAttachmentAllocatedOnce() throws Exception {
    try (JipamdProcess jipamd = JipamdProcess.launchOnSocket(null, tmp.resolve("j.sock"),
        List.of("--store", "memory", "--log-calls"), List.of())) {
      jipamd.awaitReady();
      List<String> first = loadAndLoggedAllocations(jipamd);
      List<String> both = loadAndLoggedAllocations(jipamd);
      assertTrue(!first.isEmpty() && both.size() > first.size(), "each run allocates: " + first.size() + ", then "
          + (both.size() - first.size()));
      Set<String> seen = new HashSet<>();
      List<String> again = new ArrayList<>();
      for (String id : both) {
        if (!seen.add(id)) {
          again.add(id);
        }
      }
      assertEquals(List.of(), again, "attachments allocated more than once over two runs of "
          + first.size() + " and " + (both.size() - first.size()) + " allocations");
    }
  }

  /** One short run of 4 clients; then every attachment the log shows allocated so far, in order. */
  private static List<String> loadAndLoggedAllocations(JipamdProcess jipamd) throws InterruptedException {
    PairLoad.Result r = PairLoad.run(jipamd.endpoint(), 4, 2, Duration.ZERO, Duration.ZERO, Duration.ofMillis(300),
        jipamd.pid());
    assertEquals(0, r.failures(), "failed calls");
    // every pair ends with its release answered; its log line follows the answer
    Await.until(() -> count(ALLOCATE, jipamd.output()) == count(RELEASE, jipamd.output()), Duration.ofSeconds(10),
        () -> "every allocation's release in the log:\n" + jipamd.output());
    List<String> ids = new ArrayList<>();
    Matcher m = ALLOCATE.matcher(jipamd.output());
    while (m.find()) {
      ids.add(m.group(1));
    }
    return ids;
  }

  private static int count(Pattern p, String text) {
    int n = 0;
    Matcher m = p.matcher(text);
    while (m.find()) {
      n++;
    }
    return n;
  }
}
