package io.jipam.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Pool;
import io.jipam.testkit.Etcd;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A pool's keys damaged by hand (docs/etcd.md says to delete a pool's keys together): a definition
 * deleted without its blocks is not defined again over them (before, a store with another block
 * size cut the pool anew and gave an address in use to a second attachment); a stored block length
 * out of the allowed ones is a DECODE_FAILURE naming the pool (before: accepted, or error 999);
 * and an audit names a record it cannot read instead of ending on it.
 */
@ExtendWith(EtcdExtension.class)
class EtcdDefinitionDamageIT {
  private final Etcd etcd;
  private final String prefix = "/damage-" + UUID.randomUUID();
  private final Pool pool = EtcdStoreIT.pool("p", "198.18.0.0/24");

  EtcdDefinitionDamageIT(Etcd etcd) {
    this.etcd = etcd;
  }

  private GroupCommitStore open(String node, int blockV4) {
    return (GroupCommitStore) EtcdStores.open(EtcdStoreConfig.of(etcd.endpoints(), node).withPrefix(prefix)
        .withBlockSizes(blockV4, 122));
  }

  private static void write(GroupCommitStore store, io.etcd.jetcd.op.Op op) {
    store.etcd().txn(List.of(), List.of(op), List.of(), System.nanoTime() + 5_000_000_000L, "damaging");
  }

  @Test
  void allocate_definitionDeletedWithoutItsBlocks_refusedNamingBothNothingWritten() {
    try (GroupCommitStore a = open("n1", 26)) {
      a.allocate(pool, AllocationRequest.of(new Attachment("first", "eth0")));
      write(a, EtcdClient.delete(a.keys().pool("p")));
    }
    try (GroupCommitStore b = open("n2", 28)) {
      IpamException e = assertThrows(IpamException.class,
          () -> b.allocate(pool, AllocationRequest.of(new Attachment("second", "eth0"))));
      assertEquals(ErrorCode.DECODE_FAILURE, e.code());
      assertTrue(e.getMessage().contains("198.18.0.0_26") && e.getMessage().contains(b.keys().pool("p")),
          e.getMessage());
      assertTrue(b.etcd().getAll(List.of(b.keys().pool("p")), System.nanoTime() + 5_000_000_000L, "reading")
          .get(0) == null, "defined again");
    }
  }

  @ParameterizedTest
  @CsvSource({"8", "31", "32", "0", "40", "-1"})
  void allocate_storedBlockLengthOutOfRange_decodeFailureNamingThePool(String length) {
    try (GroupCommitStore a = open("n1", 26)) {
      a.allocate(pool, AllocationRequest.of(new Attachment("first", "eth0")));
      String key = a.keys().pool("p");
      String stored = EtcdClient.text(a.etcd().getAll(List.of(key), System.nanoTime() + 5_000_000_000L, "reading")
          .get(0).getValue());
      write(a, EtcdClient.put(key, stored.replace("set 26 ", "set " + length + " ")));
    }
    try (GroupCommitStore b = open("n2", 26)) {
      IpamException e = assertThrows(IpamException.class,
          () -> b.allocate(pool, AllocationRequest.of(new Attachment("second", "eth0"))));
      assertEquals(ErrorCode.DECODE_FAILURE, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("\"p\"") && e.getMessage().contains(length), e.getMessage());
    }
  }

  @Test
  void audit_blockKeyOfAnotherCut_namedAsAFindingTheRestAudited() {
    try (GroupCommitStore a = open("n1", 26)) {
      a.allocate(pool, AllocationRequest.of(new Attachment("first", "eth0")));
      String stray = a.keys().block("p", 0, "198.18.0.128_28");
      write(a, EtcdClient.put(stray, "jipam-block 2"));
      List<String> findings = a.audit(pool);
      assertEquals(1, findings.size(), findings.toString());
      assertTrue(findings.get(0).contains(stray) && findings.get(0).contains("cannot be read"), findings.toString());
    }
  }
}
