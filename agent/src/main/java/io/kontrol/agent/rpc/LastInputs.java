package io.kontrol.agent.rpc;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The last {@code $INPUT} this pod received through the peer API, per state: every {@code
 * Transition} the group's leader sends is recorded here as it arrives (whatever its outcome), so
 * that the pod can re-run a state with it by itself, e.g. {@code configure} when its template
 * annotation changes (see {@code io.kontrol.agent.annotations.LiveAnnotations}).
 *
 * <p>Written by the peer server's threads, read by anyone; a map of immutable strings.
 */
public final class LastInputs {

  private final Map<String, String> byState = new ConcurrentHashMap<>();

  /** Records {@code input} (possibly empty) as the last one sent for {@code state}. */
  public void record(String state, String input) {
    byState.put(state, input);
  }

  /** The last input received for {@code state}; empty when that state was never sent. */
  public Optional<String> last(String state) {
    return Optional.ofNullable(byState.get(state));
  }
}
