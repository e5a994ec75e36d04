package io.jipam.hostlocal;

/** Whether the file store forces what a call writes to disk before the call returns. */
public enum FileSync {
  /**
   * No fsync, like host-local: an allocation survives the process being killed as soon as the
   * call returns, but not necessarily a power loss.
   */
  NONE,
  /**
   * Every address file, cursor and the directory entries forced to disk before a call returns: an
   * allocation also survives a power loss.
   */
  FSYNC
}
