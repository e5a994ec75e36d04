package io.jipam.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.InterfaceName;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * jipamctl (in this JVM) on input a careless operator or a hostile file gives it: usage errors
 * are one line, exit 2, before anything is opened; files that are too large or not regular files
 * are refused unread; every value echoed is escaped once and shortened; an Error is one line;
 * release says "releasing" only once the operator said yes.
 */
@Timeout(60)
class JipamctlHostileInputTest {
  static final String CONF = ("{'cniVersion':'1.1.0','name':'net','plugins':[{'type':'bridge','ipam':{'type':'jipam',"
      + "'ranges':[[{'subnet':'198.18.1.0/28'}]],'sticky':{'pods':['db/*'],'holdSeconds':900,'maxHeldPercent':100}}}]}")
      .replace('\'', '"');
  /** No jipamd answers here: a usage error must be found before it would be asked. */
  static final String NO_JIPAMD = "unix:/nonexistent/jipam.sock";
  static final String LONG = "x".repeat(100_000);

  @TempDir Path dir;
  Path conf;
  Path data;

  record Run(int exit, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exit + "\nout:\n" + out + "\nerr:\n" + (err.length() > 2000 ? err.substring(0, 2000) + "..." : err);
    }
  }

  @BeforeEach
  void write() throws Exception {
    conf = Files.writeString(dir.resolve("net.conflist"), CONF);
    data = Files.createDirectories(dir.resolve("data"));
  }

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Jipamctl.commandLine(args);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int exit = Jipamctl.execute(cl, args);
    return new Run(exit, out.toString(), err.toString());
  }

  /** On the data dir with the conflist. */
  Run direct(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--data-dir", data.toString(), "--conf", conf.toString()));
    return run(all.toArray(String[]::new));
  }

  /** With stdin giving {@code answer} (empty: closed), on the data dir. */
  Run answering(String answer, String... args) {
    Prompts.IN.set(new ByteArrayInputStream(answer.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    try {
      return direct(args);
    } finally {
      Prompts.IN.remove();
    }
  }

  Pool pool() {
    return ConfPools.network(conf).all().get(0);
  }

  static Path sparse(Path file, long length) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(length);
    }
    return file;
  }

  static void oneLine(Run r) {
    assertEquals(1, r.err().strip().lines().count(), r::toString);
    assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in thread"), r::toString);
    assertTrue(r.err().length() < 1000, () -> "not shortened: " + r.err().length() + " characters");
  }

  @Test
  void usageErrors_badValuesAndConflicts_exit2OneLineBeforeAnythingIsOpened() throws Exception {
    Path malformed = Files.writeString(dir.resolve("malformed.txt"), "c1/eth0\nnoslash\n");
    Path badIfname = Files.writeString(dir.resolve("badifname.txt"), "c1/\n");
    Path empty = Files.writeString(dir.resolve("empty.txt"), "# none\n");
    Path big = sparse(dir.resolve("big.txt"), (Gc.MAX_VALID_MIB << 20) + 1L);
    Object[][] table = {
        {new String[] {"--server", "nonsense", "pools"}, "--server \"nonsense\" is not unix:/path or host:port"},
        {new String[] {"--server", "host:99999", "pools"}, "--server \"host:99999\" is not unix:/path"},
        {new String[] {"--server", "unix:", "pools"}, "--server \"unix:\" is not unix:/path"},
        {new String[] {"--server", LONG, "pools"}, "--server \"xxxx"},
        {new String[] {"--data-dir", "d", "--etcd-config", "e.json", "pools"}, "give one, not both"},
        {new String[] {"--as-node", "../x", "pools"}, "--as-node: invalid node name \"../x\""},
        {new String[] {"reclaim-node", "n1", "--quiet-period", "-5"}, "--quiet-period -5: give 1 or more seconds"},
        {new String[] {"reclaim-node", "n1", "--quiet-period", "0"}, "--quiet-period 0: give 1 or more seconds"},
        {new String[] {"reclaim-node", "../x"}, "NODE: invalid node name \"../x\""},
        {new String[] {"lift-fence", "../x"}, "NODE: invalid node name \"../x\""},
        {new String[] {"list", "--node", "../x"}, "--node: invalid node name \"../x\""},
        {new String[] {"reserve", "198.18.1.5", "--namespace", ""}, "--namespace \"\" is empty"},
        {new String[] {"gc", "--pool", "net", "--valid", malformed.toString()}, "line 2 \"noslash\" is not containerID/ifname"},
        {new String[] {"gc", "--pool", "net", "--valid", badIfname.toString()}, "line 1 \"c1/\" is not containerID/ifname"},
        {new String[] {"gc", "--pool", "net", "--valid", empty.toString()}, "names no attachment"},
        {new String[] {"gc", "--pool", "net", "--valid", big.toString()}, "is larger than 16777216 bytes"},
        {new String[] {"gc", "--pool", "net", "--valid", "/dev/null"}, "\"/dev/null\": cannot read: is not a regular file"},
        {new String[] {"gc", "--pool", "net", "--valid", dir.toString()}, "cannot read: is a directory"},
        {new String[] {"--" + LONG, "pools"}, "Unknown option: '--xxxx"},
        {new String[] {"--timeout", "1" + "0".repeat(100_000), "pools"}, "Invalid value for option '--timeout'"},
        {new String[] {"pools", LONG}, "Unmatched argument"},
        {new String[] {"--timeout", "0", "migrate", "--from", "d", "--to", "e.json", "--conf", "c.json"},
            "--timeout 0: give 1 to"},
        // an empty path is the working directory, which a script's unset variable must not open
        {new String[] {"--data-dir", "", "pools"}, "--data-dir is empty: give a path"},
        {new String[] {"--etcd-config", "", "pools"}, "--etcd-config is empty: give a path"},
        {new String[] {"--data-dir", "d", "--conf", "", "pools"}, "--conf is empty: give a path"},
        {new String[] {"--server", "127.0.0.1:1", "--cert", "/x", "pools"}, "--cert \"/x\" needs --key"},
        {new String[] {"--server", "127.0.0.1:1", "--ca", "/nonexistent/ca.pem", "pools"},
            "--ca \"/nonexistent/ca.pem\" cannot be read: no such file"},
        {new String[] {"--server", "127.0.0.1:1", "--ca", "/tmp", "pools"}, "--ca \"/tmp\" cannot be read: is a directory"},
        // read before any connection, as every file jipamctl reads: a device or FIFO hung the TLS set-up
        {new String[] {"--server", "127.0.0.1:1", "--ca", "/dev/zero", "pools"},
            "--ca \"/dev/zero\" cannot be read: is not a regular file"},
        {new String[] {"--server", "127.0.0.1:1", "--ca", empty.toString(), "pools"}, "is not PEM: no certificate in it"},
        {new String[] {"--server", "127.0.0.1:1", "--cert", empty.toString(), "--key", empty.toString(), "pools"},
            "--cert \"" + empty + "\" is not PEM"},
        {new String[] {"--server", "tcp://198.18.0.1:80", "pools"}, "is not unix:/path or host:port"},
        {new String[] {"--server", "[]:80", "pools"}, "is not unix:/path or host:port"},
        {new String[] {"--server", "a b:80", "pools"}, "is not unix:/path or host:port"},
        {new String[] {"--server", "host:+80", "pools"}, "is not unix:/path or host:port"},
        // a store opened directly acts as its own node: --as-node would be ignored (a gc for another node)
        {new String[] {"--data-dir", "d", "--as-node", "n2", "pools"}, "--as-node \"n2\" acts through jipamd"},
        {new String[] {"--etcd-config", "e.json", "--as-node", "n2", "gc", "--pool", "net", "--valid", "/x"},
            "--as-node \"n2\" acts through jipamd"},
        {new String[] {"list", "--container-id", ""}, "--container-id is empty"},
        // options that would do nothing there
        {new String[] {"--data-dir", "d", "--server", "127.0.0.1:1", "pools"}, "--server applies to jipamd; with --data-dir"},
        {new String[] {"--etcd-config", "e.json", "--ca", "/x", "pools"}, "--ca applies to jipamd; with --etcd-config"},
        {new String[] {"--server", "unix:/run/j.sock", "--insecure", "pools"}, "--insecure applies to jipamd on TCP"},
        {new String[] {"--server", "unix:/run/j.sock", "pools", "--ca", "/x"}, "--ca applies to jipamd on TCP"},
        {new String[] {"--server", "127.0.0.1:1", "--insecure", "--ca", "/x", "pools"}, "give one or the other"},
        // an inherited option at both levels: the later one replaced the earlier without a word
        {new String[] {"--data-dir", "a", "list", "--data-dir", "b"}, "--data-dir is given both before and after"},
        {new String[] {"--data-dir", "d", "--conf", "a.conf", "list", "--conf", "b.conf"}, "--conf is given both"},
        {new String[] {"-o", "json", "list", "-o", "text"}, "--output is given both"},
        {new String[] {"--server", "127.0.0.1:1", "--insecure", "pools", "--insecure"}, "--insecure is given both"},
    };
    for (Object[] c : table) {
      List<String> args = new ArrayList<>(List.of((String[]) c[0]));
      if (!args.contains("--server") && !args.contains("--data-dir") && !args.contains("--etcd-config")) {
        args.addAll(0, List.of("--server", NO_JIPAMD));
      }
      Run r = run(args.toArray(String[]::new));
      String what = String.join(" ", (String[]) c[0]);
      what = what.length() > 100 ? what.substring(0, 100) : what;
      assertEquals(2, r.exit(), what + ": " + r);
      assertTrue(r.err().contains((String) c[1]), what + ": " + r);
      assertFalse(r.err().contains("no jipamd answers"), what + ": " + r);
      oneLine(r);
    }
  }

  /**
   * A refused command writes nothing on stdout and leaves nothing behind: an unknown --pool fails
   * before the table's header; a migrate whose source cannot be opened leaves no new data dir. A
   * --server naming a directory or a file says so, not that no jipamd answers.
   */
  @Test
  void refused_unknownPoolOrUnopenableSource_nothingPrintedNothingMade() throws Exception {
    for (String command : List.of("usage", "list", "reservations")) {
      Run r = direct(command, "--pool", "nope");
      assertEquals(1, r.exit(), command + ": " + r);
      assertEquals("", r.out(), command + ": " + r);
    }
    Path file = Files.writeString(dir.resolve("file.sock"), "x");
    for (Path notSocket : List.of(dir, file)) {
      Run r = run("--server", notSocket.toString(), "pools");
      assertEquals(1, r.exit(), r::toString);
      assertTrue(r.err().contains(", not a socket: --server names jipamd's unix socket")
          && !r.err().contains("no jipamd answers"), r::toString);
    }
    Path notJson = Files.writeString(dir.resolve("bad.json"), "not json");
    Path to = dir.resolve("new-data-dir");
    Run r = run("--server", NO_JIPAMD, "migrate", "--from", notJson.toString(), "--to", to.toString(), "--conf",
        conf.toString(), "--node", "n1");
    assertEquals(1, r.exit(), r::toString);
    assertFalse(Files.exists(to), "a refused migrate made " + to);
  }

  @Test
  void filesAndValues_tooLargeNotRegularOrLong_oneLineExit1NamingThem() throws Exception {
    Path bigConf = sparse(dir.resolve("big.conflist"), io.jipam.core.cni.NetworkConfig.MAX_BYTES + 1L);
    Path bigEtcd = sparse(dir.resolve("big.json"), DirectBackend.ETCD_CONFIG_MAX_BYTES + 1L);
    Object[][] table = {
        {new String[] {"pools", "--data-dir", data.toString(), "--conf", bigConf.toString()},
            "network config \"" + bigConf + "\": cannot read: is larger than 4194304 bytes"},
        {new String[] {"pools", "--data-dir", data.toString(), "--conf", "/dev/null"},
            "network config \"/dev/null\": cannot read: is not a regular file"},
        {new String[] {"pools", "--etcd-config", bigEtcd.toString()},
            "cannot read etcd config \"" + bigEtcd + "\": is larger than 4194304 bytes"},
        {new String[] {"pools", "--etcd-config", "/dev/null"}, "cannot read etcd config \"/dev/null\": is not a regular file"},
        {new String[] {"pools", "--data-dir", LONG}, "data dir \"xxxx"},
        {new String[] {"pools", "--data-dir", data.toString(), "--conf", dir.resolve(LONG.substring(0, 200)).toString()},
            "cannot read: no such file"},
        {new String[] {"list", "--pool", LONG, "--data-dir", data.toString(), "--conf", conf.toString()},
            "has no pool named \"xxxx"},
        {new String[] {"show", LONG, "--data-dir", data.toString(), "--conf", conf.toString()},
            "nothing allocated or claimed matches \"xxxx"},
        {new String[] {"release", LONG, "--yes", "--data-dir", data.toString(), "--conf", conf.toString()},
            "nothing allocated matches \"xxxx"},
    };
    for (Object[] c : table) {
      Run r = run((String[]) c[0]);
      String what = String.join(" ", (String[]) c[0]);
      what = what.length() > 100 ? what.substring(0, 100) : what;
      assertEquals(1, r.exit(), what + ": " + r);
      assertTrue(r.err().contains((String) c[1]), what + ": " + r);
      oneLine(r);
    }
  }

  @Test
  void dataDirAndConfDir_namesWithControlCharacters_escapedOnceNeverRaw() throws Exception {
    Files.createDirectories(data.resolve("\u001b[2Jevil\nforged"));
    Path confs = Files.createDirectories(dir.resolve("net.d"));
    Files.writeString(confs.resolve("net.conflist"), CONF);
    Files.writeString(confs.resolve("bad\u001b[31m.conf"), "{not json");
    Files.createDirectories(confs.resolve("sub.conf"));
    Run r = run("pools", "--data-dir", data.toString(), "--conf", confs.toString());
    assertEquals(0, r.exit(), r::toString);
    assertFalse(r.err().contains("\u001b") || r.err().lines().anyMatch(l -> l.startsWith("forged")), r::toString);
    assertTrue(r.err().contains("network \"\\x1b[2Jevil\\x0aforged\" in "), r::toString);
    String bad = confs.resolve("bad\u001b[31m.conf").toString();
    List<String> skipped = r.err().lines().filter(l -> l.startsWith("jipamctl: skipping ")).toList();
    assertEquals(2, skipped.size(), r::toString);
    assertTrue(skipped.get(0).startsWith("jipamctl: skipping \"" + bad.replace("\u001b", "\\x1b") + "\": "), r::toString);
    assertEquals(1, skipped.get(0).split("bad", -1).length - 1, "the file named once: " + skipped.get(0));
    assertTrue(skipped.get(1).contains("sub.conf\": cannot read: is a directory"), r::toString);
  }

  @Test
  void listShowRelease_interfaceNamesWithControlAndNonAsciiBytes_escapedExactlyOnce() throws Exception {
    String notUtf8 = InterfaceName.decode(new byte[] {'e', (byte) 0xff});
    try (IpamStore store = HostLocalStores.open(data)) {
      for (String[] a : new String[][] {{"u1", "eth\u001b"}, {"u2", "eth\u00e9"}, {"u3", notUtf8}, {"u4", "a\\b"}}) {
        store.allocate(pool(), new AllocationRequest(new Attachment(a[0], a[1]), List.of(), new PodRef("ns", a[0])));
      }
    }
    Run list = direct("list");
    assertEquals(0, list.exit(), list::toString);
    for (String shown : List.of("u1/eth\\x1b ", "u2/eth\u00e9 ", "u3/e\\xff ", "u4/a\\\\b ")) {
      assertTrue(list.out().contains(shown), shown + ": " + list);
    }
    assertFalse(list.out().contains("\u001b") || list.out().contains("\\\\x") || list.out().contains("\\x5c"), list::toString);
    Run show = direct("show", "u2/eth\u00e9");
    assertEquals(0, show.exit(), show::toString);
    assertTrue(show.out().contains("u2/eth\u00e9 "), show::toString);
    Run dry = direct("release", "u1", "--dry-run");
    assertTrue(dry.out().contains("would release") && dry.out().contains("u1/eth\\x1b "), dry::toString);
    assertEquals("e\\xff", Formats.ifname(notUtf8));
  }

  @Test
  void release_declinedOrStdinClosed_saysWouldReleaseNeverReleasingAndJsonAnswers() throws Exception {
    Pool p = pool();
    try (IpamStore store = HostLocalStores.open(data)) {
      store.allocate(p, new AllocationRequest(new Attachment("c1", "eth0"), List.of(), new PodRef("web", "w1")));
      store.allocate(p, new AllocationRequest(new Attachment("c2", "eth0"), List.of(), new PodRef("db", "db-0")));
      store.release(p, new Attachment("c2", "eth0")); // a sticky pod: its address is held
    }
    String held = "198.18.1.3";
    // answer, args -> exit, what stdout has, what it must not have
    Object[][] table = {
        {"", new String[] {"release", "c1/eth0"}, 1, "", "releasing"},
        {"n\n", new String[] {"release", "c1/eth0"}, 1, "", "releasing"},
        {"", new String[] {"release", "c1/eth0", "-o", "json"}, 1, "\"released\" : [ ]", "releasing"},
        {"", new String[] {"release", held}, 1, "", "ending"},
        {"", new String[] {"release", held, "-o", "json"}, 1, "\"endedHolds\" : [ ]", "ending"},
    };
    for (Object[] c : table) {
      Run r = answering((String) c[0], (String[]) c[1]);
      String what = String.join(" ", (String[]) c[1]) + " answering " + c[0];
      assertEquals(c[2], r.exit(), what + ": " + r);
      assertTrue(r.out().contains((String) c[3]) && !r.out().contains((String) c[4]), what + ": " + r);
      assertTrue(r.err().contains("would ") && r.err().contains("nothing released"), what + ": " + r);
      if (String.join(" ", (String[]) c[1]).contains("json")) {
        assertFalse(new JsonObject(r.out()).getBoolean("dryRun"), what + ": " + r);
      }
    }
    Run yes = answering("y\n", "release", "c1/eth0");
    assertEquals(0, yes.exit(), yes::toString);
    assertTrue(yes.out().startsWith("releasing ") && yes.err().contains("would release"), yes::toString);
    Run end = answering("yes\n", "release", held, "-o", "json");
    assertEquals(0, end.exit(), end::toString);
    assertEquals(1, new JsonObject(end.out()).getJsonArray("endedHolds").size(), end::toString);
  }

  @Command(name = "boom")
  static final class Boom implements Callable<Integer> {
    @Override
    public Integer call() {
      throw new OutOfMemoryError("Java heap space");
    }
  }

  @Test
  void execute_commandThrowsAnError_oneLineExit1NoStackTrace() {
    StringWriter err = new StringWriter();
    CommandLine cl = Jipamctl.commandLine();
    cl.addSubcommand("boom", new Boom());
    cl.setErr(new PrintWriter(err, true));
    int exit = Jipamctl.execute(cl, new String[] {"boom"});
    Run r = new Run(exit, "", err.toString());
    assertEquals(1, exit, r::toString);
    assertEquals("jipamctl: failed: java.lang.OutOfMemoryError: Java heap space", err.toString().strip());
    oneLine(r);
  }

  /**
   * gc releases what the operator saw and said yes to: a pod made while the question was open is
   * kept (gc ran the GC again after the answer, and released it too).
   */
  @Test
  void gc_podMadeWhileAsking_onlyWhatWasShownReleased() throws Exception {
    Pool pool = pool();
    try (IpamStore store = HostLocalStores.open(data)) {
      store.allocate(pool, new AllocationRequest(new Attachment("c1", "eth0"), List.of(), new PodRef("ns", "p1")));
      store.allocate(pool, new AllocationRequest(new Attachment("c2", "eth0"), List.of(), new PodRef("ns", "p2")));
    }
    Path valid = Files.writeString(dir.resolve("valid.txt"), "c1/eth0\n");
    java.io.InputStream answerAfterAnAdd = new java.io.InputStream() {
      private final ByteArrayInputStream yes = new ByteArrayInputStream("y\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      private boolean added;

      @Override
      public int read() {
        return read(new byte[1], 0, 1);
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (!added) {
          added = true;
          try (IpamStore store = HostLocalStores.open(data)) {
            store.allocate(pool, new AllocationRequest(new Attachment("c8", "eth0"), List.of(), new PodRef("ns", "p8")));
          }
        }
        return yes.read(b, off, len);
      }
    };
    Prompts.IN.set(answerAfterAnAdd);
    Run r;
    try {
      r = direct("gc", "--pool", "net", "--valid", valid.toString());
    } finally {
      Prompts.IN.remove();
    }
    assertEquals(0, r.exit(), r::toString);
    assertEquals(List.of("released net 198.18.1.3 c2/eth0 ns/p2"),
        r.out().lines().map(l -> l.replaceAll(" +", " ").strip()).toList(), r::toString);
    try (IpamStore store = HostLocalStores.open(data)) {
      assertEquals(1, store.find(pool, new Attachment("c8", "eth0")).size(), "the pod made meanwhile keeps its address");
      assertEquals(1, store.find(pool, new Attachment("c1", "eth0")).size());
    }
  }

  /** An argument starting with @ is a value: picocli read the file it names into arguments (or an error message). */
  @Test
  void args_atFileNames_takenAsValuesNoFileRead() throws Exception {
    Path secret = Files.writeString(dir.resolve("secret"), "TOP-SECRET-LINE\n");
    Run r = direct("show", "@" + secret);
    assertFalse(r.err().contains("TOP-SECRET-LINE") || r.out().contains("TOP-SECRET-LINE"), r::toString);
    assertTrue(r.err().contains("@" + secret), r::toString);
  }

  @Test
  void message_longOrControlCharacters_oneBoundedLine() {
    assertEquals("a\\x0ab", Jipamctl.message("a\nb"));
    String shortened = Jipamctl.message("y".repeat(100_000));
    assertEquals("y".repeat(Jipamctl.MESSAGE_LIMIT) + "... (100000 characters)", shortened);
  }
}
