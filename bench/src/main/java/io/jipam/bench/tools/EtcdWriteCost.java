package io.jipam.bench.tools;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.jipam.bench.service.ProcCpu;
import io.jipam.testkit.Etcd;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What one etcd transaction costs etcd's CPU as a function of the keys it writes: on one one-member
 * etcd (the central cell's), {@code clients} jetcd clients with {@code inFlight} loops each (the
 * cell's 16 x 4), every loop a compare-and-swap of a key of its own whose success branch writes
 * {@code k} keys in all (the CAS key and {@code k - 1} others, created by one transaction and
 * deleted by the next, as an ADD's records are by its DEL), for each {@code k} given. Per {@code k}
 * it prints transactions/s and etcd's CPU per transaction ({@code utime + stime} of its process over
 * the measured window), then the least-squares line {@code cpu = a + b k}: {@code a} what a
 * transaction costs etcd whatever it writes (the request, raft, the WAL entry, the apply), {@code
 * b} what each key written adds (the key index, bbolt, the WAL's bytes).
 *
 * <p>Why: issue 18's central cell is measured against one single-key CAS per allocation, and an
 * allocation in the etcd layout writes records of its own (docs/etcd.md, "Key layout"). With
 * {@code a} and {@code b} known, etcd's share of a central pair is {@code a x proposals per pair +
 * b x key writes per pair} (both counted by the cell), which bounds how far that cell can pass the
 * ceiling on shared cores, whatever jipamd spends.
 *
 * <pre>java -cp "bench/target/classes:bench/target/lib/*" io.jipam.bench.tools.EtcdWriteCost \
 *     [seconds=5] [clients=16] [inFlight=4] [k=1,2,4,8,16]</pre>
 */
public final class EtcdWriteCost {
  private EtcdWriteCost() {}

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int clients = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    int inFlight = args.length > 2 ? Integer.parseInt(args[2]) : 4;
    String ks = args.length > 3 ? args[3] : "1,2,4,8,16";
    System.out.printf("load average at start: %s%n", Files.readString(Path.of("/proc/loadavg")).trim());
    List<double[]> points = new ArrayList<>();
    try (Etcd etcd = Etcd.builder().timing(Etcd.Timing.ETCD_DEFAULT).start()) {
      long pid = etcd.pids().get(0);
      List<Client> connections = new ArrayList<>();
      try {
        for (int c = 0; c < clients; c++) {
          connections.add(Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)).build());
        }
        for (int round = 0; round < 2; round++) { // the first round warms etcd and the clients up
          for (String kText : ks.split(",")) {
            int k = Integer.parseInt(kText.trim());
            double[] got = window(connections, inFlight, k, seconds, pid);
            if (round == 1) {
              points.add(new double[] {k, got[1]});
              System.out.printf("k=%d keys per transaction: %.0f tx/s, etcd CPU %.3f ms per transaction, load %s%n",
                  k, got[0], got[1], Files.readString(Path.of("/proc/loadavg")).trim());
            }
          }
        }
      } finally {
        for (Client c : connections) {
          c.close();
        }
      }
    }
    double n = points.size();
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (double[] p : points) {
      sx += p[0];
      sy += p[1];
      sxx += p[0] * p[0];
      sxy += p[0] * p[1];
    }
    double b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    double a = (sy - b * sx) / n;
    System.out.printf("etcd CPU per transaction = %.3f ms + %.4f ms per key written (least squares over k)%n", a, b);
    System.exit(0);
  }

  /** One measured window at {@code k} keys per transaction: {transactions/s, etcd CPU ms per transaction}. */
  private static double[] window(List<Client> connections, int inFlight, int k, int seconds, long etcdPid)
      throws Exception {
    String run = UUID.randomUUID().toString();
    long start = System.nanoTime() + 1_000_000_000L; // a warm-up second at this k
    long[] bounds = {start, start + seconds * 1_000_000_000L};
    AtomicLong counted = new AtomicLong();
    double[] cpu = new double[2];
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    for (int c = 0; c < connections.size(); c++) {
      KV kv = connections.get(c).getKVClient();
      for (int l = 0; l < inFlight; l++) {
        String base = "/write-cost/" + run + "/" + c + "/" + l + "/";
        ByteSequence key = bs(base + "cas");
        long revision = kv.put(key, bs("0")).get().getHeader().getRevision();
        CompletableFuture<Void> done = new CompletableFuture<>();
        loops.add(done);
        loop(kv, key, base, k, revision, 0, bounds, counted, done);
      }
    }
    Thread.sleep(Math.max(0, (bounds[0] - System.nanoTime()) / 1_000_000));
    cpu[0] = ProcCpu.millis(etcdPid);
    long c0 = counted.get();
    Thread.sleep(Math.max(0, (bounds[1] - System.nanoTime()) / 1_000_000));
    cpu[1] = ProcCpu.millis(etcdPid);
    long c1 = counted.get();
    CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get();
    long tx = c1 - c0;
    return new double[] {tx / (double) seconds, (cpu[1] - cpu[0]) / tx};
  }

  /**
   * CAS after CAS on {@code key} until the window ends: transaction n writes the CAS key and, when n
   * is even, puts {@code k - 1} keys of its own, when odd deletes them (k writes either way).
   */
  private static void loop(KV kv, ByteSequence key, String base, int k, long revision, long n, long[] bounds,
      AtomicLong counted, CompletableFuture<Void> done) {
    if (System.nanoTime() >= bounds[1]) {
      done.complete(null);
      return;
    }
    List<Op> writes = new ArrayList<>(k);
    writes.add(Op.put(key, bs(Long.toString(n)), PutOption.DEFAULT));
    for (int i = 1; i < k; i++) {
      ByteSequence other = bs(base + i);
      writes.add(n % 2 == 0
          ? Op.put(other, bs("jipam-handle 1 node node-07 pod default pod-" + n), PutOption.DEFAULT)
          : Op.delete(other, DeleteOption.DEFAULT));
    }
    kv.txn().If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(revision)))
        .Then(writes.toArray(Op[]::new))
        .Else(Op.get(key, GetOption.DEFAULT)).commit()
        .whenComplete((r, failure) -> {
          if (failure != null) {
            done.completeExceptionally(failure);
            return;
          }
          long now = System.nanoTime();
          long next;
          if (r.isSucceeded()) {
            next = r.getHeader().getRevision();
            if (now >= bounds[0] && now < bounds[1]) {
              counted.incrementAndGet();
            }
          } else {
            next = r.getGetResponses().get(0).getKvs().get(0).getModRevision();
          }
          loop(kv, key, base, k, next, n + 1, bounds, counted, done);
        });
  }

  private static ByteSequence bs(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }
}
