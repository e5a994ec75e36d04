package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.api.WireMapping;
import io.jipam.api.v1.AllocateRequest;
import io.jipam.api.v1.Attachment;
import io.jipam.api.v1.IpamGrpcClient;
import io.jipam.api.v1.ReleaseRequest;
import io.jipam.api.v1.RetainOnlyRequest;
import io.jipam.core.ErrorCode;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.server.metrics.CallLog;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A change that reaches jipamd after the time its sender gave it to apply by (apply_by_unix_millis:
 * the sender has given up on it and gone on) is refused TRY_AGAIN_LATER and changes nothing; one in
 * time, or with none given (an older sender), is applied; a RetainOnly dry run reads only and is
 * answered whatever its time. Stale changes held up in a paused replica: {@code StaleChangeIT}.
 */
@Timeout(60)
class ApplyByRefusalTest {
  private static final io.jipam.api.v1.Attachment C1 = Attachment.newBuilder().setContainerId("c1").setIfname("eth0")
      .build();

  @TempDir Path dir;

  @Test
  void changes_applyByPassedInTimeOrNone_refusedChangingNothingOrApplied() throws Exception {
    Pool pool = CentralSubPoolsTest.smallPool("net");
    io.jipam.api.v1.Pool wire = WireMapping.pool(pool);
    long past = System.currentTimeMillis() - 60_000;
    long ahead = System.currentTimeMillis() + 3_600_000;
    record Row(String name, long applyBy, boolean applied) {}
    for (Row row : List.of(new Row("passed a minute ago", past, false), new Row("the epoch's first ms", 1, false),
        new Row("an hour ahead", ahead, true), new Row("none given", 0, true))) {
      IpamStore store = MemoryStores.open();
      Path socket = dir.resolve("central.sock");
      try (AutoCloseable central = IpamServer.start(store, IpamServer.Settings.unix(socket), CallLog.quiet());
          RawGrpc grpc = new RawGrpc(socket)) {
        RawGrpc.Answer<?> add = grpc.call(IpamGrpcClient.Allocate, AllocateRequest.newBuilder().setPool(wire)
            .setAttachment(C1).setApplyByUnixMillis(row.applyBy).build());
        expect(row, add, "Allocate");
        assertEquals(row.applied ? 1 : 0, store.list(pool).size(), row.name);

        store.allocate(pool, AllocationRequest.of(WireMapping.attachment(C1))); // held from here on, either way
        RawGrpc.Answer<?> del = grpc.call(IpamGrpcClient.Release, ReleaseRequest.newBuilder().setPool(wire)
            .setAttachment(C1).setApplyByUnixMillis(row.applyBy).build());
        expect(row, del, "Release");
        assertEquals(row.applied ? 0 : 1, store.list(pool).size(), row.name);

        store.allocate(pool, AllocationRequest.of(WireMapping.attachment(C1)));
        RawGrpc.Answer<?> preview = grpc.call(IpamGrpcClient.RetainOnly, RetainOnlyRequest.newBuilder().setPool(wire)
            .setDryRun(true).setApplyByUnixMillis(row.applyBy).build());
        assertNull(preview.error(), row.name + ": a dry run changes nothing, whatever its time");
        RawGrpc.Answer<?> gc = grpc.call(IpamGrpcClient.RetainOnly, RetainOnlyRequest.newBuilder().setPool(wire)
            .setApplyByUnixMillis(row.applyBy).build());
        expect(row, gc, "RetainOnly");
        assertEquals(row.applied ? 0 : 1, store.list(pool).size(), row.name);
      }
    }
  }

  private static void expect(Object rowObject, RawGrpc.Answer<?> answer, String method) {
    String row = rowObject.toString();
    if (row.contains("applied=true")) {
      assertNull(answer.error(), row + " " + method);
      return;
    }
    assertEquals(ErrorCode.TRY_AGAIN_LATER, answer.error() == null ? null : answer.error().code(), row + " " + method);
    assertTrue(answer.error().getMessage().startsWith("not applied: the change reached jipamd ")
        && answer.error().getMessage().contains("after the time its sender gave it to apply by"),
        answer.error().getMessage());
  }
}
