package io.jipam.core.store.capability;

/**
 * A store whose calls only do local work: memory, or files in a local directory written without
 * fsync. Such a call never waits on a network, a remote process or a disk flush; it takes
 * microseconds to a few milliseconds (its file system calls), or, when the file store must reload
 * a pool another process changed, the time to read that pool's files (O(allocations)). The one
 * wait it can meet is the pool's lock while another call on the same pool holds it (another
 * thread's batch, or a plugin in direct mode on the same data dir), which lasts one such call.
 *
 * <p>A server may therefore run these calls on the thread that decoded the request (an event
 * loop) instead of handing each to a worker and back, which on a busy machine costs two waits for
 * a core per call. A store behind a network (etcd, a remote jipamd) or one that forces its writes
 * to disk does not offer it. Ask a store for it with {@code store.capability(LocalCalls.class)}; it
 * has no methods: having it is the promise.
 */
public interface LocalCalls {}
