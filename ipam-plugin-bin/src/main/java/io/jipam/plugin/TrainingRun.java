package io.jipam.plugin;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The workload {@code jipam-train-cache} runs to record which classes a plugin call loads: the
 * usual calls against a throw-away data dir, in one process; with the argument {@code etcd}, calls
 * on the etcd store for the etcd cache ({@link #trainEtcd}). Exits non-zero when a call that must
 * succeed did not, so a broken build cannot train a cache silently.
 *
 * <p>Everything this class itself uses ends up in the cache too, and a JVM started with the cache
 * loads all of it: so no temp-file API (it initialises SecureRandom and the security providers),
 * no streams, no lambdas here.
 */
public final class TrainingRun {
  private TrainingRun() {}

  public static void main(String[] args) throws IOException {
    System.getenv(); // every plugin call reads its environment: train the classes behind it
    if (args.length == 1 && "etcd".equals(args[0])) {
      trainEtcd();
      return;
    }
    Path dir = newPrivateDir("jipam-train-");
    try {
      String conf = ("{'cniVersion':'1.0.0','name':'train','ipam':{'type':'jipam','dataDir':'"
          + dir + "','ranges':[[{'subnet':'198.18.0.0/24'}],[{'subnet':'fd00::/64'}]],"
          + "'routes':[{'dst':'0.0.0.0/0'}]}}").replace('\'', '"');
      expect(0, call("ADD", conf));
      expect(0, call("ADD", conf));
      String check = conf.substring(0, conf.length() - 1)
          + ",\"prevResult\":{\"ips\":[{\"address\":\"198.18.0.2/24\"},{\"address\":\"fd00::2/64\"}]}}";
      expect(0, call("CHECK", check));
      expect(0, call("DEL", conf));
      expect(0, call("VERSION", ""));
      expect(1, call("ADD", "{\"cniVersion\":\"1.0.0\",\"name\":\"train\",\"ipam\":{}}"));
      // daemon mode: the socket client's classes (no jipamd listens here: error 11)
      expect(1, call("ADD", conf.replace("\"type\":\"jipam\",", "\"type\":\"jipam\",\"daemon\":{\"socket\":\""
          + dir.resolve("no-jipamd.sock") + "\",\"timeoutSeconds\":1},")));
      trainDaemonAnswer();
    } finally {
      deleteTree(dir.toFile());
    }
  }

  /**
   * What a daemon-mode call does once jipamd answered: the request built from the process's own
   * environment (its entry set is a class of its own) and jipamd's answer parsed as jipamd writes
   * it. Without this a daemon-mode call loads {@code DaemonClient.Reply} from the jar, which opens
   * and verifies the jar: about 4 ms of CPU per call. A stand-in jipamd in this process would put
   * the server side of a socket (ServerSocketChannel, InetAddress, socket options) into the cache,
   * which every call, direct ones too, then loads at start-up (measured: about 2 ms).
   */
  private static void trainDaemonAnswer() {
    DaemonClient.request(System.getenv(), new byte[0], System.currentTimeMillis());
    byte[] body = "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"198.18.0.2/24\"}]}\n"
        .getBytes(StandardCharsets.UTF_8);
    byte[] head = ("HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nconnection: close\r\ncontent-length: " + body.length
        + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    byte[] answer = new byte[head.length + body.length];
    System.arraycopy(head, 0, answer, 0, head.length);
    System.arraycopy(body, 0, answer, head.length, body.length);
    DaemonClient.Reply reply = DaemonClient.parse(new DaemonClient.Target("training", 1), answer);
    if (reply.exit() != 0 || reply.output().length != body.length) {
      throw new IllegalStateException("training answer parsed as exit " + reply.exit());
    }
  }

  /**
   * The etcd cache's workload (lib/jipam-etcd.aot, run with lib/etcd's jars on the class path):
   * ADD and DEL on an etcd store whose endpoint refuses connections, each failing with error 11
   * within its short timeout, and a config error; then, when an etcd binary is at hand
   * ({@code JIPAM_TRAIN_ETCD}, else {@code etcd} in /usr/bin or /usr/local/bin: where this
   * project's builds install it), a throw-away single member on loopback and an ADD, the same ADD
   * again and a DEL that succeed on it, so the classes of a call's successful end (about 530: the gRPC
   * streams, Netty's, Vert.x's) come from the cache too. Without one they load from the jars.
   */
  private static void trainEtcd() throws IOException {
    String conf = ("{'cniVersion':'1.0.0','name':'train','ipam':{'type':'jipam','store':{'type':'etcd',"
        + "'endpoints':['http://127.0.0.1:1'],'node':'training','timeoutMillis':300},"
        + "'ranges':[[{'subnet':'198.18.0.0/24'}],[{'subnet':'fd00::/64'}]]}}").replace('\'', '"');
    expect(1, call("ADD", conf));
    expect(1, call("DEL", conf));
    expect(1, call("ADD", conf.replace("\"node\"", "\"nodes\"")));
    File etcd = etcdBinary();
    if (etcd == null) {
      return;
    }
    Path dir = newPrivateDir("jipam-train-etcd-");
    int client = freePort();
    int peer = freePort();
    String clientUrl = "http://127.0.0.1:" + client;
    String peerUrl = "http://127.0.0.1:" + peer;
    Process member = new ProcessBuilder(etcd.getPath(), "--name", "train", "--data-dir", dir.resolve("data").toString(),
        "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl, "--listen-peer-urls", peerUrl,
        "--initial-advertise-peer-urls", peerUrl, "--initial-cluster", "train=" + peerUrl)
        .redirectErrorStream(true).redirectOutput(dir.resolve("etcd.log").toFile()).start();
    try {
      String live = conf.replace("http://127.0.0.1:1", clientUrl).replace("\"timeoutMillis\":300", "\"timeoutMillis\":5000");
      int added = 1;
      for (int attempt = 0; attempt < 100 && added != 0 && member.isAlive(); attempt++) {
        added = call("ADD", live); // error 11 until the member answers
        if (added != 0) {
          sleep(100);
        }
      }
      expect(0, added);
      expect(0, call("ADD", live)); // repeated: the handle read back
      expect(0, call("DEL", live));
    } finally {
      member.destroy();
      try {
        member.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      deleteTree(dir.toFile());
    }
  }

  /**
   * A new directory under the temp dir, then only its owner's: mkdir fails on anything already at
   * the name (a symbolic link included), so nothing another user placed there is followed, written
   * or deleted. Neither the temp-file API (its SecureRandom) nor permission sets (EnumSet, which
   * ExecPathClassesIT keeps off the exec path): this class's classes are in the plugin's cache.
   */
  private static Path newPrivateDir(String prefix) throws IOException {
    Path dir = Files.createDirectory(Path.of(System.getProperty("java.io.tmpdir"), prefix
        + ProcessHandle.current().pid() + "-" + System.nanoTime()));
    File f = dir.toFile();
    boolean owner = f.setReadable(false, false) & f.setWritable(false, false) & f.setExecutable(false, false)
        & f.setReadable(true, true) & f.setWritable(true, true) & f.setExecutable(true, true);
    if (!owner) {
      throw new IOException("cannot make " + dir + " its owner's only");
    }
    return dir;
  }

  private static File etcdBinary() {
    String given = System.getenv("JIPAM_TRAIN_ETCD");
    String[] candidates = given != null ? new String[] {given} : new String[] {"/usr/bin/etcd", "/usr/local/bin/etcd"};
    for (String c : candidates) {
      File f = new File(c);
      if (f.canExecute()) {
        return f;
      }
    }
    return null;
  }

  private static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static void deleteTree(File file) {
    File[] children = file.listFiles();
    if (children != null) {
      for (File child : children) {
        deleteTree(child);
      }
    }
    file.delete();
  }

  private static int call(String command, String stdin) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", "training");
    env.put("CNI_NETNS", "/var/run/netns/training");
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", "/opt/cni/bin");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    // as the real main: the environment check's classes are in the cache too
    return JipamPlugin.run(env, JipamPlugin.Names.EXACT,
        new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(out, true, StandardCharsets.UTF_8));
  }

  private static void expect(int wanted, int got) {
    if (wanted != got) {
      throw new IllegalStateException("training call exited " + got + ", expected " + wanted);
    }
  }
}
