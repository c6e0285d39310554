package io.kontrol.agent.metrics;

import io.kontrol.agent.group.Group;
import java.time.Duration;

/**
 * What the agent's components report as it happens, for metrics. The components know only this
 * interface (no metrics library); {@link AgentMetrics} turns the events into meters. Every method
 * must be cheap and never throw: it is called on the components' own threads, including the one
 * that keeps a lease alive.
 */
public interface AgentEvents {

  /** Reports nothing (tests, embedding without metrics). */
  AgentEvents NONE = new AgentEvents() {};

  /** How a callback run ended, as the {@code result} label says it. */
  enum CallbackResult {
    OK("ok"),
    FAILED("failed"),
    TIMEOUT("timeout");

    private final String label;

    CallbackResult(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  /** An etcd call of a lease loop answered ({@code ok}) or failed. */
  default void etcdContact(boolean ok) {}

  /** This pod's record in {@code group} is written on its live lease, or no longer is. */
  default void registered(Group group, boolean registered) {}

  /** This agent started or stopped leading {@code group}. */
  default void leading(Group group, boolean leading) {}

  /** The leader read its group: how many live records, and the group's digest. */
  default void groupRead(Group group, int members, String digest) {}

  /** A callback run for {@code group} ended. */
  default void callback(Group group, CallbackResult result, Duration took) {}

  /**
   * A render's result reached the agent through its payload file: a {@code config_error} appeared
   * or changed ({@code ok} false), or was cleared ({@code ok} true).
   */
  default void render(boolean ok) {}

  /** A transition asked of the automaton through the peer API ended: ok, ko or timeout. */
  default void transition(String result) {}

  /** The automaton's current state as last read (empty: it did not answer). */
  default void automatonState(String state) {}

  /** A peer API call ended: its method ({@code Status}, ...) and gRPC status code. */
  default void peerRequest(String method, String code) {}

  /** Every event to {@code first}, then to {@code second}. */
  static AgentEvents both(AgentEvents first, AgentEvents second) {
    return new AgentEvents() {
      @Override
      public void etcdContact(boolean ok) {
        first.etcdContact(ok);
        second.etcdContact(ok);
      }

      @Override
      public void registered(Group group, boolean registered) {
        first.registered(group, registered);
        second.registered(group, registered);
      }

      @Override
      public void leading(Group group, boolean leading) {
        first.leading(group, leading);
        second.leading(group, leading);
      }

      @Override
      public void groupRead(Group group, int members, String digest) {
        first.groupRead(group, members, digest);
        second.groupRead(group, members, digest);
      }

      @Override
      public void callback(Group group, CallbackResult result, Duration took) {
        first.callback(group, result, took);
        second.callback(group, result, took);
      }

      @Override
      public void render(boolean ok) {
        first.render(ok);
        second.render(ok);
      }

      @Override
      public void transition(String result) {
        first.transition(result);
        second.transition(result);
      }

      @Override
      public void automatonState(String state) {
        first.automatonState(state);
        second.automatonState(state);
      }

      @Override
      public void peerRequest(String method, String code) {
        first.peerRequest(method, code);
        second.peerRequest(method, code);
      }
    };
  }
}
