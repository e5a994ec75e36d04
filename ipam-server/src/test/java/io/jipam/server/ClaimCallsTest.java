package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.client.RemoteStore;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.net.IpAddress;
import io.jipam.core.store.AddressPolicy;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.AllocationOutcome;
import io.jipam.core.store.AllocationRequest;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodPattern;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.core.store.StickyRule;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.TestPools;
import io.jipam.server.metrics.CallLog;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The claims calls and the workload-aware fields at jipamd's gRPC edge, beyond the contract suite
 * (which runs the claims contract through {@link ServedStore}): a pool's policy and the
 * allocations' origins travel, and a store without claims answers UNSUPPORTED_FIELD naming it.
 */
@Timeout(60)
class ClaimCallsTest {
  @TempDir Path dir;
  IpamServer server;
  RemoteStore remote;

  void start(IpamStore store) {
    Path socket = dir.resolve("jipam.sock");
    server = IpamServer.start(store, IpamServer.Settings.unix(socket), CallLog.quiet());
    remote = RemoteStore.connect(RemoteStore.Target.parse("unix:" + socket).withTimeout(ServedStore.TIMEOUT));
  }

  @AfterEach
  void stop() {
    if (remote != null) {
      remote.close();
    }
    if (server != null) {
      server.close();
    }
  }

  static Pool sticky() {
    return TestPools.pool("net", AllocationOrder.LOWEST_FREE, "198.18.0.0/28").withPolicy(new AddressPolicy(
        new StickyRule(List.of(PodPattern.parse("db/*")), Duration.ofSeconds(600), 50), Duration.ofSeconds(30)));
  }

  @Test
  void allocate_poolPolicyAndOriginsTravel() {
    start(MemoryStores.open());
    Pool pool = sticky();
    AllocationRequest add = new AllocationRequest(new Attachment("c1", "eth0"), List.of(), new PodRef("db", "db-0"));
    var first = assertInstanceOf(AllocationOutcome.Allocated.class, remote.allocate(pool, add));
    assertEquals(1, first.origins().size());
    assertEquals(first.existing() ? AllocationOrigin.EXISTING : first.origins().get(0), first.origins().get(0));
    var again = assertInstanceOf(AllocationOutcome.Allocated.class, remote.allocate(pool, add));
    assertEquals(List.of(AllocationOrigin.EXISTING), again.origins());
    assertEquals(pool, remote.pools().get(0).pool());
    // the policy is not part of the definition: the same pool without it is served with its own
    // (no hold at its release), and shown as the last allocation named it
    Pool plain = pool.withPolicy(AddressPolicy.NONE);
    assertInstanceOf(AllocationOutcome.Allocated.class, remote.allocate(plain, new AllocationRequest(
        new Attachment("c2", "eth0"), List.of(), new PodRef("db", "db-1"))));
    assertEquals(plain, remote.pools().get(0).pool());
    remote.release(plain, new Attachment("c2", "eth0"));
    assertEquals(List.of(), remote.claims(plain), "released under no policy: no hold, no cool-down");
    // other ranges are another definition
    IpamException e = assertThrows(IpamException.class, () -> remote.allocate(TestPools.pool("net",
        AllocationOrder.LOWEST_FREE, "198.18.0.0/27"), AllocationRequest.of(new Attachment("c3", "eth0"))));
    assertEquals(ErrorCode.INVALID_CONFIG, e.code(), e.getMessage());
  }

  @Test
  void claimsCalls_storeWithoutClaims_unsupportedFieldNamingTheStore() {
    start(withoutClaims(MemoryStores.open()));
    Pool pool = sticky();
    IpAddress a = IpAddress.parse("198.18.0.5");
    Map<String, Executable> calls = new LinkedHashMap<>();
    calls.put("Reserve", () -> remote.reserve(pool, a, new PodRef("db", ""), false));
    calls.put("Unreserve", () -> remote.unreserve(pool, a));
    calls.put("EndHold", () -> remote.endHold(pool, a));
    calls.put("ListClaims", () -> remote.claims(pool));
    for (Map.Entry<String, Executable> c : calls.entrySet()) {
      IpamException e = assertThrows(IpamException.class, c.getValue(), c.getKey());
      assertEquals(ErrorCode.UNSUPPORTED_FIELD, e.code(), e.getMessage());
      assertTrue(e.getMessage().matches(c.getKey() + ": this jipamd's store \\(\\$Proxy\\d+\\) keeps no claims"),
          e.getMessage());
    }
  }

  @Test
  void reserve_badPodOrAddress_invalidConfigNamingIt() {
    start(MemoryStores.open());
    Pool pool = sticky();
    IpamException noNamespace = assertThrows(IpamException.class,
        () -> remote.reserve(pool, IpAddress.parse("198.18.0.5"), new PodRef("", "x"), false));
    assertEquals("reserve needs a namespace (for a pod: its namespace and name)", noNamespace.getMessage());
    IpamException badName = assertThrows(IpamException.class,
        () -> remote.reserve(pool, IpAddress.parse("198.18.0.5"), new PodRef("db", "Bad_Name"), false));
    assertEquals(ErrorCode.INVALID_CONFIG, badName.code());
    assertEquals("reserve pod.name \"Bad_Name\" is not a Kubernetes pod name: only lowercase letters, digits, '-',"
        + " '.' are allowed", badName.getMessage());
  }

  /**
   * A store with the contract only (no capabilities), as an older or third-party store: a proxy
   * that passes the contract's methods to {@code inner} and answers capabilities as a plain
   * {@link IpamStore} does.
   */
  static IpamStore withoutClaims(IpamStore inner) {
    return (IpamStore) Proxy.newProxyInstance(IpamStore.class.getClassLoader(), new Class<?>[] {IpamStore.class},
        (proxy, method, args) -> {
          if (method.isDefault()) {
            return InvocationHandler.invokeDefault(proxy, method, args);
          }
          try {
            return method.invoke(inner, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }
}
