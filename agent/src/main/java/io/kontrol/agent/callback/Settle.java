package io.kontrol.agent.callback;

import io.kontrol.agent.watch.Snapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Recovery without a flap: after etcd could not be reached, every record may have expired, and
 * the pods register again within moments of each other. A leader acting on the first, partial
 * group it sees would reconfigure every service twice. So, once etcd answers again, the callback
 * waits at least the damper, and until every member the last successful callback ran on ({@code
 * G/members}) has registered again or a TTL has passed since etcd came back (a member that is not
 * back by then is gone). When membership did not change, the group's digest is the one that last
 * succeeded, or the service callback finds nothing to do: no service sees a change.
 *
 * <p>A leader that registers in the group it leads (mixed mode) is elected in parallel with its
 * own registration: its term's first pass may see the group before its own record. That pass
 * waits until the record is in the group, or a TTL from the start of the term has passed (the
 * registration is then failing, and the group is acted on without it). Stateless.
 */
public final class Settle {
  /** No outage seen. */
  public static final long NONE = Long.MIN_VALUE;

  private final long damperNanos;
  private final long ttlNanos;
  private final LongSupplier outageEnded;
  private final Optional<String> self;
  private final long termStarted;

  /**
   * @param outageEnded when etcd last answered again after it could not be reached (the
   *     scheduler's clock), {@link #NONE} when it never could not
   */
  public Settle(Duration damper, Duration ttl, LongSupplier outageEnded) {
    this(damper, ttl, outageEnded, Optional.empty(), 0);
  }

  /**
   * As above, for a leader that registers in its own group as {@code self}, whose term started at
   * {@code termStartedNanos} (the scheduler's clock).
   */
  public Settle(Duration damper, Duration ttl, LongSupplier outageEnded, Optional<String> self, long termStartedNanos) {
    this.damperNanos = damper.toNanos();
    this.ttlNanos = ttl.toNanos();
    this.outageEnded = outageEnded;
    this.self = self;
    this.termStarted = termStartedNanos;
  }

  /** Never waits: no outage is ever reported. */
  public static Settle none() {
    return new Settle(Duration.ZERO, Duration.ZERO, () -> NONE);
  }

  /** How long a run on {@code s} must wait still, or empty when it may act now. */
  public Optional<Duration> remaining(Snapshot s, long nowNanos) {
    long back = outageEnded.getAsLong();
    if (back == NONE) {
      return Optional.empty();
    }
    long since = nowNanos - back;
    if (since < damperNanos) {
      return Optional.of(Duration.ofNanos(damperNanos - since));
    }
    if (since < ttlNanos && !missing(s).isEmpty()) {
      return Optional.of(Duration.ofNanos(ttlNanos - since));
    }
    return Optional.empty();
  }

  /**
   * How long a run on {@code s} must wait still for the leader's own record, or empty when it is
   * in {@code s}, the leader does not register in the group, or a TTL of the term has passed.
   */
  public Optional<Duration> awaitingSelf(Snapshot s, long nowNanos) {
    if (self.isEmpty() || s.ids().contains(self.get())) {
      return Optional.empty();
    }
    long since = nowNanos - termStarted;
    return since < ttlNanos ? Optional.of(Duration.ofNanos(ttlNanos - since)) : Optional.empty();
  }

  /** The members of the last successful run that have no live record in {@code s}. */
  public static List<String> missing(Snapshot s) {
    Set<String> live = new HashSet<>(s.ids());
    List<String> out = new ArrayList<>(s.members());
    out.removeIf(live::contains);
    return out;
  }
}
