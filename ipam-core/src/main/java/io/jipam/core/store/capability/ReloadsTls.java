package io.jipam.core.store.capability;

/**
 * A store that reaches its data over TLS with certificate files, and can read those files again
 * while it runs: a renewed client certificate takes effect without a restart. Ask a store for it
 * with {@code store.capability(ReloadsTls.class)}.
 */
public interface ReloadsTls {
  /**
   * Calls from now on use the TLS files as they are now; calls already sent finish as they began.
   * The caller checks the files first: files that cannot be read fail the calls that follow, as
   * they would have failed the store's start. Thread-safe.
   */
  void reloadTls();
}
