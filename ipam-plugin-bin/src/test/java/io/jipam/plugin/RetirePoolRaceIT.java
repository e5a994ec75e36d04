package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.testkit.FileLockHolder;
import io.jipam.testkit.Await;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jipamctl retire-pool} racing plugin processes on one data dir. Each round empties a
 * sub-pool, then holds its lock from another process while a jipamctl retires the pool and two
 * plugin processes (direct mode) ADD into it: all three wait in the kernel for that one lock
 * ({@code /proc/locks} shows them waiting; the retire came first in even rounds, last in odd ones)
 * and race for it when it is let go. Whichever wins, no ADD
 * is lost: both ADDs succeed and hold their address files afterwards, the retire either retired
 * the emptied pool before them (exit 0) or found their allocations and changed nothing (exit 1),
 * and no address is held twice.
 */
class RetirePoolRaceIT {
  private static final String SUBNET = "198.18.63.0/28";
  private static final Pattern ADDRESS = Pattern.compile("\"address\"\\s*:\\s*\"([0-9.]+)/28\"");

  @TempDir Path tmp;

  /** Network {@code ret} whose one sub-pool {@code old} takes every pod. */
  private String conf() {
    return ("{'cniVersion':'1.0.0','name':'ret','ipam':{'type':'jipam','dataDir':'" + tmp.resolve("data") + "',"
        + "'subPools':[{'name':'old','ranges':[[{'subnet':'" + SUBNET + "'}]]}]}}").replace('\'', '"');
  }

  private CniExec.Result call(String command, String container) {
    Map<String, String> env = CniExec.env(command, container, "eth0", "/var/run/netns/" + container);
    return CniExec.run(CniExec.JIPAM_JVM, env, conf());
  }

  /** The addresses with a file in the pool's directory. */
  private Set<String> held() throws IOException {
    Path dir = tmp.resolve("data/ret+old");
    Set<String> out = new TreeSet<>();
    if (Files.isDirectory(dir)) {
      try (Stream<Path> files = Files.list(dir)) {
        files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("198.18.")).forEach(out::add);
      }
    }
    return out;
  }

  /** Processes waiting for a POSIX lock on the file (its inode's "->" lines of /proc/locks). */
  private static long waiters(Path file) throws IOException {
    long inode = (Long) Files.getAttribute(file, "unix:ino");
    try (Stream<String> lines = Files.lines(Path.of("/proc/locks"))) {
      return lines.filter(l -> l.contains("->") && l.matches(".*\\s[0-9a-f]+:[0-9a-f]+:" + inode + "\\s.*")).count();
    }
  }

  private CniExec.Result retire() {
    return CniExec.jipamctl(tmp, "retire-pool", "--data-dir", tmp.resolve("data").toString(), "ret+old");
  }

  private static String address(CniExec.Result r) {
    Matcher m = ADDRESS.matcher(r.stdout());
    assertTrue(m.find(), r::toString);
    return m.group(1);
  }

  @Test
  void retirePool_racingTwoAddsForThePoolsLock_noAddLostNoAddressTwice() throws Exception {
    assertTrue(Files.isExecutable(CniExec.JIPAM_JVM), CniExec.JIPAM_JVM + " is missing: build with ./mvnw package");
    Path lock = tmp.resolve("data/ret+old/lock");
    int retired = 0;
    ExecutorService callers = Executors.newFixedThreadPool(3);
    try {
      for (int round = 0; round < 6; round++) {
        // an emptied pool: its directory keeps the cursor of an ADD whose DEL came
        assertEquals(0, call("ADD", "seed-" + round).exit());
        assertEquals(0, call("DEL", "seed-" + round).exit());
        assertEquals(Set.of(), held());

        Future<CniExec.Result> retire;
        List<Future<CniExec.Result>> adds = new ArrayList<>();
        try (FileLockHolder holder = FileLockHolder.hold(lock)) {
          // the kernel wakes a lock's waiters in the order they came: the retire first in even
          // rounds, the ADDs first in odd ones
          boolean retireFirst = round % 2 == 0;
          retire = retireFirst ? callers.submit(this::retire) : null;
          Await.until(() -> waiters(lock) == (retireFirst ? 1 : 0), Duration.ofMinutes(2), () -> "the retire waiting");
          for (String c : List.of("a-" + round, "b-" + round)) {
            adds.add(callers.submit(() -> call("ADD", c)));
          }
          Await.until(() -> waiters(lock) == (retireFirst ? 3 : 2), Duration.ofMinutes(2), () -> "the ADDs waiting");
          if (!retireFirst) {
            retire = callers.submit(this::retire);
            Await.until(() -> waiters(lock) == 3, Duration.ofMinutes(2), () -> "the retire waiting");
          }
        }
        CniExec.Result r = retire.get();
        Set<String> got = new TreeSet<>();
        for (Future<CniExec.Result> f : adds) {
          CniExec.Result add = f.get();
          assertEquals(0, add.exit(), add::toString);
          got.add(address(add));
        }
        assertEquals(2, got.size(), "two ADDs, two addresses: " + got);
        assertEquals(got, held(), "every ADD's address file is there after the retire (" + r + ")");
        if (r.exit() == 0) {
          retired++;
          assertEquals("pool ret+old retired", r.stdout().strip(), r::toString);
        } else {
          assertEquals(1, r.exit(), r::toString);
          assertTrue(r.stderr().contains("pool ret+old still holds "), r::toString);
        }
        for (String c : List.of("a-" + round, "b-" + round)) {
          assertEquals(0, call("DEL", c).exit());
        }
      }
    } finally {
      callers.shutdownNow();
    }
    System.out.println("RetirePoolRaceIT: the retire won the lock in " + retired + " of 6 rounds");
    CniExec.Result last = retire();
    assertEquals(0, last.exit(), last::toString);
    try (Stream<Path> left = Files.list(tmp.resolve("data/ret+old"))) {
      assertEquals(List.of("lock"), left.map(p -> p.getFileName().toString()).toList(), "only the lock file stays");
    }
  }
}
