package io.jipam.core.store.capability;

import io.jipam.core.store.Attachment;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.Pool;
import io.jipam.core.testing.ForwardingStore;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A memory store that answers {@link Inspection} with given values (and {@link NodeView} for
 * {@code node} when it is not null), for the fallbacks that read those abilities.
 */
class InspectedStore extends ForwardingStore {
  private final PoolBlocks blocks;
  private final Map<Attachment, String> nodes;
  private final String node;

  InspectedStore(IpamStore store, PoolBlocks blocks, Map<Attachment, String> nodes, String node) {
    super(store);
    this.blocks = blocks;
    this.nodes = nodes;
    this.node = node;
  }

  @Override
  public <T> Optional<T> capability(Class<T> ability) {
    if (ability == Inspection.class) {
      return Optional.of(ability.cast(new Inspection() {
        @Override
        public PoolBlocks blockUsage(Pool pool) {
          return blocks;
        }

        @Override
        public Map<Attachment, String> allocatingNodes(Pool pool) {
          return nodes;
        }

        @Override
        public List<String> audit(Pool pool) {
          return List.of();
        }
      }));
    }
    if (ability == NodeView.class && node != null) {
      return Optional.of(ability.cast(new NodeView() {
        @Override
        public String node() {
          return node;
        }

        @Override
        public PoolBlocks nodeBlockUsage(Pool pool) {
          return blocks;
        }
      }));
    }
    return Optional.empty();
  }
}
