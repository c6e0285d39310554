package io.kontrol.automaton.machine;

import java.time.Duration;
import java.util.Objects;

/**
 * Timing and limits of a {@link Machine}. Immutable; build with {@link #newBuilder()}.
 *
 * <ul>
 *   <li>{@code settle} — how long a newer transition waits before it preempts a running script
 *       (so a script may {@code GOTO} its own state and still finish); default 1 s, as the
 *       original;
 *   <li>{@code killGrace} — between SIGTERM and SIGKILL to a script's process group; default 5 s;
 *   <li>{@code terminalTimeout} — bound on the terminal script, and on how long a {@code force}
 *       script may delay a shutdown; default 50 s (under supervisord's usual 60 s
 *       {@code stopwaitsecs});
 *   <li>{@code maxQueue} — pending transitions beyond which {@code GOTO} is refused; default 1024.
 * </ul>
 */
public final class MachineSettings {

  private final Duration settle;
  private final Duration killGrace;
  private final Duration terminalTimeout;
  private final int maxQueue;

  private MachineSettings(Builder b) {
    this.settle = b.settle;
    this.killGrace = b.killGrace;
    this.terminalTimeout = b.terminalTimeout;
    this.maxQueue = b.maxQueue;
  }

  public static MachineSettings defaults() {
    return newBuilder().build();
  }

  public static Builder newBuilder() {
    return new Builder();
  }

  public Duration settle() {
    return settle;
  }

  public Duration killGrace() {
    return killGrace;
  }

  public Duration terminalTimeout() {
    return terminalTimeout;
  }

  public int maxQueue() {
    return maxQueue;
  }

  @Override
  public String toString() {
    return "settle=" + settle.toMillis() + "ms, killGrace=" + killGrace.toMillis() + "ms, terminalTimeout="
        + terminalTimeout.toMillis() + "ms, maxQueue=" + maxQueue;
  }

  public static final class Builder {
    private Duration settle = Duration.ofSeconds(1);
    private Duration killGrace = Duration.ofSeconds(5);
    private Duration terminalTimeout = Duration.ofSeconds(50);
    private int maxQueue = 1024;

    private Builder() {}

    public Builder settle(Duration d) {
      this.settle = nonNegative(d, "settle");
      return this;
    }

    public Builder killGrace(Duration d) {
      this.killGrace = nonNegative(d, "killGrace");
      return this;
    }

    public Builder terminalTimeout(Duration d) {
      this.terminalTimeout = nonNegative(d, "terminalTimeout");
      return this;
    }

    public Builder maxQueue(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxQueue must be at least 1, got " + n);
      }
      this.maxQueue = n;
      return this;
    }

    public MachineSettings build() {
      return new MachineSettings(this);
    }

    private static Duration nonNegative(Duration d, String name) {
      Objects.requireNonNull(d, name);
      if (d.isNegative()) {
        throw new IllegalArgumentException(name + " must not be negative, got " + d);
      }
      return d;
    }
  }
}
