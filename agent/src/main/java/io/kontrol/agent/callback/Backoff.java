package io.kontrol.agent.callback;

import java.time.Duration;

/** Delay before retrying a failed callback: doubling from {@code base}, capped at {@code max}. */
public final class Backoff {
  private final Duration base;
  private final Duration max;

  public Backoff(Duration base, Duration max) {
    if (base.isNegative() || base.isZero() || max.compareTo(base) < 0) {
      throw new IllegalArgumentException("need 0 < base <= max: " + base + ", " + max);
    }
    this.base = base;
    this.max = max;
  }

  /** The delay after {@code failures} consecutive failures (1 = the first failure). */
  public Duration delay(int failures) {
    int doublings = Math.max(0, Math.min(30, failures - 1));
    Duration d = base.multipliedBy(1L << doublings);
    return d.compareTo(max) > 0 ? max : d;
  }
}
