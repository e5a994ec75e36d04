/**
 * For store implementers, not for callers of {@link io.jipam.core.store.IpamStore}: the in-memory
 * state of one pool that every single-node store keeps ({@link io.jipam.core.store.spi.PoolState}:
 * the allocator, the address and attachment indexes, the cursors) and the rules every store applies
 * the same way ({@link io.jipam.core.store.spi.RequestedAddresses}). A caller needs only
 * {@code io.jipam.core.store}.
 */
package io.jipam.core.store.spi;
