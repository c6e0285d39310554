package io.kontrol.agent.rpc;

import java.util.Objects;

/**
 * What a peer answered to a transition request.
 *
 * @param outcome how it ended
 * @param reason why, when not {@link PeerOutcome#OK} (empty otherwise)
 * @param state the automaton's state after the call, empty when unknown
 */
public record TransitionResult(PeerOutcome outcome, String reason, String state) {

  public TransitionResult {
    Objects.requireNonNull(outcome, "outcome");
    reason = reason == null ? "" : reason;
    state = state == null ? "" : state;
  }

  public boolean ok() {
    return outcome == PeerOutcome.OK;
  }
}
