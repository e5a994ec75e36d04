package io.jipam.core.store.capability;

/** What {@link RetirePools#retire} did; only {@link Retired} changed anything. */
public sealed interface RetireOutcome {

  /** The pool's state is removed: the store no longer keeps it. */
  record Retired(String pool) implements RetireOutcome {}

  /**
   * The pool still holds something, and nothing was changed: {@code allocations} addresses allocated
   * and {@code claims} live claims (holds, reservations, cool-downs).
   */
  record InUse(String pool, int allocations, int claims) implements RetireOutcome {

    /** What holds the pool, printable as is: {@code 2 allocations and 1 live claim}. */
    public String holders() {
      return count(allocations, "allocation") + " and " + count(claims, "live claim");
    }

    private static String count(int n, String what) {
      return n + " " + what + (n == 1 ? "" : "s");
    }
  }

  /** The store keeps no pool of that name. */
  record NotFound(String pool) implements RetireOutcome {}
}
