package io.jipam.core.store.capability;

/**
 * A store whose calls never wait: no file system, network or disk, and no lock held by another
 * process. Each call is a few microseconds of memory work under the store's own short lock (the
 * memory store). A server may run every call of such a store on the thread that decoded it (an
 * event loop), gRPC included; a {@link LocalCalls} store, whose calls do file system work and may
 * wait for a pool's lock, does not offer it. Ask a store for it with {@code
 * store.capability(NeverBlocks.class)}; it has no methods: having it is the promise.
 */
public interface NeverBlocks {}
