package io.jipam.core.store.capability;

/**
 * A store that reaches its data over TLS with certificate files, and can take renewed ones while
 * it runs: a renewed client certificate takes effect without a restart. Ask a store for it with
 * {@code store.capability(ReloadsTls.class)}.
 */
public interface ReloadsTls {
  /**
   * Calls from now on use these files' bytes, as the caller read and checked them (the CA file,
   * the client certificate and its key; null for a file the store was not given, whose default
   * stays); calls already sent finish as they began. The bytes are used as given, not read again:
   * a file replaced meanwhile cannot slip past the caller's check. Thread-safe.
   */
  void reloadTls(byte[] ca, byte[] cert, byte[] key);
}
