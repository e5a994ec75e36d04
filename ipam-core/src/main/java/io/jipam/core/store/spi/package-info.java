/**
 * For store implementers, not for callers of {@link io.jipam.core.store.IpamStore}: the rules every
 * store applies the same way ({@link io.jipam.core.store.spi.RequestedAddresses}). A caller needs
 * only {@code io.jipam.core.store}.
 */
package io.jipam.core.store.spi;
