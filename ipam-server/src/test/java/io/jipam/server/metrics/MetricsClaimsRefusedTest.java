package io.jipam.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.alloc.AllocationOrder;
import io.jipam.core.store.Pool;
import io.jipam.core.store.capability.Claims;
import io.jipam.core.store.memory.MemoryStores;
import io.jipam.core.testing.ForwardingStore;
import io.jipam.core.testing.TestPools;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A node jipamd in front of a central one scrapes its pools through the remote store, which may not
 * list claims (an operator's call on the central jipamd): asked at every scrape, each one put a
 * refused call and an error series on the central jipamd. Refused once, they are not asked again,
 * and the scrape still has the pools' usage.
 */
class MetricsClaimsRefusedTest {
  /** A store whose Claims ability refuses every listing (PERMISSION_DENIED), counting the asks. */
  static final class RefusingClaims extends ForwardingStore {
    final AtomicInteger asked = new AtomicInteger();
    private final Claims refusing = (Claims) java.lang.reflect.Proxy.newProxyInstance(Claims.class.getClassLoader(),
        new Class<?>[] {Claims.class}, (proxy, method, args) -> {
          if (method.getName().equals("claims")) {
            asked.incrementAndGet();
            throw new IpamException(ErrorCode.PERMISSION_DENIED, "ListClaims is an operator's call");
          }
          throw new UnsupportedOperationException(method.getName());
        });

    RefusingClaims() {
      super(MemoryStores.open());
    }

    @Override
    public <T> Optional<T> capability(Class<T> ability) {
      return ability == Claims.class ? Optional.of(ability.cast(refusing)) : super.capability(ability);
    }
  }

  @Test
  void scrape_claimsRefusedToThisNode_askedOnceUsageStillShown() {
    RefusingClaims store = new RefusingClaims();
    Metrics metrics = new Metrics();
    List<Pool> pools = List.of(TestPools.pool("a", AllocationOrder.ROUND_ROBIN, "198.18.1.0/24"),
        TestPools.pool("b", AllocationOrder.ROUND_ROBIN, "198.18.2.0/24"));
    String text = "";
    for (int i = 0; i < 3; i++) {
      text = metrics.scrape(pools, store);
    }
    assertEquals(1, store.asked.get(), "asked after a refusal");
    assertTrue(text.contains("jipamd_pool_addresses{pool=\"a\"") && text.contains("jipamd_pool_addresses{pool=\"b\""), text);
  }
}
