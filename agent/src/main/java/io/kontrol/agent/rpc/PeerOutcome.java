package io.kontrol.agent.rpc;

import io.grpc.Status;

/** How a call to a peer ended, as a caller acts on it; each maps to a {@code kontrol peer} exit code. */
public enum PeerOutcome {
  /** Done (for a transition: accepted, and with wait finished). */
  OK(0),
  /** The automaton refused the transition: unknown state, or not allowed from the current one. */
  KO(1),
  /** The peer refused the call: bad token or certificate, Invoke disabled, invalid argument. */
  REFUSED(1),
  /** The peer, or its automaton, did not answer within the timeout. */
  TIMEOUT(3),
  /** The peer cannot be reached, or its automaton is not running. */
  UNAVAILABLE(3);

  private final int exitCode;

  PeerOutcome(int exitCode) {
    this.exitCode = exitCode;
  }

  /** 0 ok, 1 refused or KO, 3 unreachable or timed out. */
  public int exitCode() {
    return exitCode;
  }

  /** The outcome of a call that failed with this gRPC status. */
  static PeerOutcome of(Status.Code code) {
    switch (code) {
      case OK:
        return OK;
      case DEADLINE_EXCEEDED:
        return TIMEOUT;
      case UNAVAILABLE:
      case CANCELLED:
      case UNKNOWN:
      case INTERNAL:
      case ABORTED:
      case UNIMPLEMENTED:
        return UNAVAILABLE;
      default:
        // UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, ...
        return REFUSED;
    }
  }
}
