package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.Limits;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.Attachment;
import io.jipam.api.v1.IpamGrpcClient;
import io.jipam.api.v1.Pool;
import io.jipam.api.v1.Range;
import io.jipam.api.v1.RangeSet;
import io.jipam.api.v1.UsageRequest;
import io.vertx.grpc.common.GrpcStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17 item 13 at the level it was found: gRPC Allocate and Usage against a real jipamd (child
 * process, file store) with pools beyond {@link Limits}: 3000 range sets, 40,000 ranges in a set,
 * 65,000 excludes in a range. Each is INVALID_ARGUMENT with INVALID_CONFIG naming the count and the
 * limit, and the data dir holds no file afterwards; a pool at the limits is served.
 */
@Timeout(240)
class GrpcLimitsIT {
  @TempDir Path dir;

  /** A range of a /30 or /24 whose network address ends in .0: .1 to .2, gateway .1. */
  static Range range(String subnet, int excludes) {
    String net = subnet.substring(0, subnet.lastIndexOf('.') + 1);
    int last = Integer.parseInt(subnet.substring(subnet.lastIndexOf('.') + 1, subnet.indexOf('/')));
    Range.Builder r = Range.newBuilder().setSubnet(subnet).setRangeStart(net + (last + 1))
        .setRangeEnd(net + (last + 2)).setGateway(net + (last + 1));
    for (int i = 0; i < excludes; i++) {
      r.addExclude("198.18.0." + (1 + i % 250) + "/32");
    }
    return r.build();
  }

  /** {@code sets} range sets, the first of {@code ranges} ranges (v4 /30s in 198.18/15), others one /30 each. */
  static Pool pool(String name, int sets, int ranges, int excludes) {
    Pool.Builder p = Pool.newBuilder().setName(name);
    int next = 0;
    for (int s = 0; s < sets; s++) {
      RangeSet.Builder set = RangeSet.newBuilder();
      for (int r = 0; r < (s == 0 ? ranges : 1); r++, next++) {
        int base = next * 4;
        String subnet = "198." + (18 + (base >> 16)) + "." + ((base >> 8) & 255) + "." + (base & 255) + "/30";
        set.addRanges(s == 0 && r == 0 && excludes > 0 ? range("198.18.0.0/24", excludes) : range(subnet, 0));
        if (s == 0 && r == 0 && excludes > 0) {
          next += 64; // the /24 covers the next 63 /30s
        }
      }
      p.addRangeSets(set);
    }
    return p.build();
  }

  @Test
  void allocateAndUsage_poolsBeyondTheLimits_invalidArgumentWithCountsNothingWritten() throws Exception {
    Path data = dir.resolve("data");
    Path socket = dir.resolve("jipam.sock");
    record Case(Pool pool, String fragment) {}
    List<Case> cases = List.of(
        new Case(pool("sets", 3000, 1, 0), "pool sets has 3000 range sets; jipam allows at most " + Limits.MAX_RANGE_SETS),
        new Case(pool("ranges", 1, 40_000, 0), "pool ranges range_sets[0] has 40000 ranges; jipam allows at most "
            + Limits.MAX_RANGES_PER_SET),
        new Case(pool("excludes", 1, 1, 65_000), "pool excludes range_sets[0].ranges[0] has 65000 exclude entries;"
            + " jipam allows at most " + Limits.MAX_EXCLUDES));
    try (JipamdProcess jipamd = JipamdProcess.start(dir, "--store", "file", "--data-dir", data.toString(),
        "--socket", socket.toString());
        RawGrpc grpc = new RawGrpc(socket)) {
      for (Case c : cases) {
        RawGrpc.Answer<?> allocate = grpc.call(IpamGrpcClient.Allocate, AllocateRequest.newBuilder().setPool(c.pool())
            .setAttachment(Attachment.newBuilder().setContainerId("c1").setIfname("eth0")).build());
        assertEquals(GrpcStatus.INVALID_ARGUMENT, allocate.status(), String.valueOf(allocate.error()));
        assertEquals(ErrorCode.INVALID_CONFIG, allocate.error().code());
        assertTrue(allocate.error().getMessage().contains(c.fragment()), allocate.error().getMessage());
        RawGrpc.Answer<?> usage = grpc.call(IpamGrpcClient.Usage, UsageRequest.newBuilder().setPool(c.pool()).build());
        assertEquals(GrpcStatus.INVALID_ARGUMENT, usage.status(), String.valueOf(usage.error()));
      }
      assertEquals(List.of(), files(data), "a refused call writes nothing");
      Pool atLimits = pool("limits", Limits.MAX_RANGE_SETS, Limits.MAX_RANGES_PER_SET, 0);
      RawGrpc.Answer<?> served = grpc.call(IpamGrpcClient.Allocate, AllocateRequest.newBuilder().setPool(atLimits)
          .setAttachment(Attachment.newBuilder().setContainerId("c1").setIfname("eth0")).build());
      assertEquals(GrpcStatus.OK, served.status(), String.valueOf(served.error()));
    }
  }

  static List<Path> files(Path data) throws IOException {
    if (!Files.exists(data)) {
      return List.of();
    }
    try (Stream<Path> s = Files.walk(data)) {
      return s.filter(Files::isRegularFile).toList();
    }
  }
}
