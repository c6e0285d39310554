package io.kontrol.agent.callback;

import java.time.Duration;
import java.util.Optional;

/**
 * When a group's callback is due after changes: once the group has been quiet for {@code quiet},
 * but never later than {@code max} after the first change of the burst, so constant churn cannot
 * starve the callback. Stateless; the caller keeps the burst's first and last change times.
 */
public final class Damper {
  private final long quietNanos;
  private final long maxNanos;

  public Damper(Duration quiet, Duration max) {
    if (quiet.isNegative() || max.compareTo(quiet) < 0) {
      throw new IllegalArgumentException("need 0 <= quiet <= max: " + quiet + ", " + max);
    }
    this.quietNanos = quiet.toNanos();
    this.maxNanos = max.toNanos();
  }

  /**
   * How long to wait still, or empty when the callback is due now.
   *
   * @param firstChangeNanos time of the burst's first change
   * @param lastChangeNanos time of its latest change
   * @param nowNanos the clock now (same clock)
   */
  public Optional<Duration> remaining(long firstChangeNanos, long lastChangeNanos, long nowNanos) {
    long due = Math.min(lastChangeNanos + quietNanos, firstChangeNanos + maxNanos);
    return nowNanos - due >= 0 ? Optional.empty() : Optional.of(Duration.ofNanos(due - nowNanos));
  }
}
