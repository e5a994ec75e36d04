package io.jipam.ctl;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * jipamctl's part of the training run of lib/server's AOT cache ({@link
 * io.jipam.server.TrainingRun} runs it after jipamd's part, in the same process): the commands an
 * operator runs most, in this process, against a jipamd started as a child process on a scratch
 * unix socket and file store holding two allocations (made by CNI calls on the socket, as the shim
 * sends them), and against that data dir opened directly: {@code --help}, {@code pools}, {@code
 * usage}, {@code list}, {@code show}, {@code check}, and a usage error. Everything is in a new temp
 * dir, deleted afterwards. {@link #run} returns 0 when every command exited as expected, else 1
 * after printing what each printed.
 */
public final class TrainingRun {
  private TrainingRun() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    System.exit(run());
  }

  /** Runs the commands; 0 when every one exited as expected, else 1 (what each printed on stderr). */
  public static int run() throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("jipamctl-training");
    StringWriter transcript = new StringWriter();
    int code = 1;
    Process jipamd = null;
    try {
      Path socket = dir.resolve("j.sock");
      Path data = dir.resolve("data");
      Path conf = dir.resolve("net.conf");
      Files.writeString(conf, "{\"cniVersion\":\"1.0.0\",\"name\":\"training\",\"ipam\":{\"type\":\"jipam\","
          + "\"subnet\":\"198.18.0.0/24\",\"dataDir\":\"" + data + "\"}}");
      jipamd = new ProcessBuilder(javaCommand(), "-cp", System.getProperty("java.class.path"),
          "io.jipam.server.Jipamd", "--socket", socket.toString(), "--store", "file", "--data-dir", data.toString())
          .redirectErrorStream(true).redirectOutput(dir.resolve("jipamd.log").toFile()).start();
      if (awaitSocket(socket, jipamd)) {
        String server = "unix:" + socket;
        List<Boolean> ok = new ArrayList<>();
        for (String id : List.of("t1", "t2")) {
          ok.add(add(transcript, socket, id, Files.readString(conf)));
        }
        ok.add(run(transcript, 0, "--help"));
        ok.add(run(transcript, 0, "-s", server, "pools"));
        ok.add(run(transcript, 0, "-s", server, "usage"));
        ok.add(run(transcript, 0, "-s", server, "list"));
        ok.add(run(transcript, 0, "-s", server, "-o", "json", "list"));
        ok.add(run(transcript, 0, "-s", server, "show", "t1/eth0"));
        ok.add(run(transcript, 1, "-s", server, "show", "nobody/eth0"));
        ok.add(run(transcript, 0, "--data-dir", data.toString(), "--conf", conf.toString(), "usage"));
        ok.add(run(transcript, 0, "--data-dir", data.toString(), "--conf", conf.toString(), "list"));
        ok.add(run(transcript, 0, "--data-dir", data.toString(), "--conf", conf.toString(), "check"));
        ok.add(run(transcript, 2, "--no-such-option"));
        code = ok.contains(false) ? 1 : 0;
      } else {
        transcript.write("jipamd did not listen on " + socket + ": " + Files.readString(dir.resolve("jipamd.log")));
      }
    } finally {
      if (jipamd != null) {
        jipamd.destroy();
        jipamd.waitFor(30, TimeUnit.SECONDS);
      }
      delete(dir);
    }
    if (code != 0) {
      System.err.println("jipamctl training failed:\n" + transcript);
    }
    return code;
  }

  /** Runs one command in this process; whether it exited with {@code expected}. */
  private static boolean run(StringWriter transcript, int expected, String... args) {
    StringWriter out = new StringWriter();
    picocli.CommandLine cl = Jipamctl.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(out, true));
    int exit = cl.execute(args);
    transcript.write("jipamctl " + String.join(" ", args) + ": exit " + exit + " (expected " + expected + ")\n"
        + out + "\n");
    return exit == expected;
  }

  /** A CNI ADD on jipamd's socket, as the shim sends it; whether it was answered with exit 0. */
  private static boolean add(StringWriter transcript, Path socket, String id, String conf) throws IOException {
    byte[] body = ("CNI_COMMAND=ADD\nCNI_CONTAINERID=" + id + "\nCNI_IFNAME=eth0\nCNI_NETNS=/var/run/netns/"
        + id + "\nCNI_PATH=/opt/cni/bin\n\n" + conf).getBytes(StandardCharsets.UTF_8);
    byte[] head = ("POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nConnection: close\r\nContent-Length: " + body.length
        + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      ByteBuffer out = ByteBuffer.allocate(head.length + body.length).put(head).put(body).flip();
      while (out.hasRemaining()) {
        ch.write(out);
      }
      String answer = new String(readAll(ch), StandardCharsets.UTF_8);
      transcript.write("ADD " + id + ": " + answer + "\n");
      return answer.contains("Jipam-Exit: 0");
    }
  }

  private static byte[] readAll(SocketChannel ch) throws IOException {
    java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
    ByteBuffer buf = ByteBuffer.allocate(4096);
    while (ch.read(buf) >= 0) {
      all.write(buf.array(), 0, buf.position());
      buf.clear();
    }
    return all.toByteArray();
  }

  private static String javaCommand() {
    return ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString());
  }

  private static boolean awaitSocket(Path socket, Process jipamd) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < end && jipamd.isAlive()) {
      if (Files.exists(socket)) {
        return true;
      }
      Thread.sleep(20);
    }
    return false;
  }

  private static void delete(Path dir) throws IOException {
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  static {
    // the training's output is not the operator's: nothing of it reaches this process's stdout
    System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8));
  }
}
