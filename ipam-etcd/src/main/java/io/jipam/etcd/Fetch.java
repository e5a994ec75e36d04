package io.jipam.etcd;

/** What a range read brings back from etcd: the keys only, or the keys with their values. */
enum Fetch {
  /** Keys (with their revisions) only: for counting, listing names, or walking a prefix's keys. */
  KEYS,
  /** Keys and values. */
  VALUES
}
