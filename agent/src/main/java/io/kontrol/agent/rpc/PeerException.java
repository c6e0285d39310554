package io.kontrol.agent.rpc;

/** A call to a peer that did not complete: refused, timed out, or the peer is unreachable. */
public final class PeerException extends Exception {

  private final PeerOutcome outcome;

  public PeerException(PeerOutcome outcome, String message, Throwable cause) {
    super(message, cause);
    this.outcome = outcome;
  }

  public PeerOutcome outcome() {
    return outcome;
  }
}
