package io.kontrol.agent.rpc;

import io.kontrol.agent.rpc.v1.StatusReply;

/**
 * The agent's part of a {@code Status} reply: the pod's record, its groups and which it leads,
 * the last callback state. The peer service adds the automaton's state, version and uptime.
 */
@FunctionalInterface
public interface StatusSource {

  /** Sets what the agent knows on {@code reply}; called on a peer-API thread, must not block long. */
  void fill(StatusReply.Builder reply);

  /** A source for a pod whose agent is not running (e.g. a bare automaton): nothing to add. */
  static StatusSource none() {
    return reply -> {};
  }
}
