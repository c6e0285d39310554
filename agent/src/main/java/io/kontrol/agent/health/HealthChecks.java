package io.kontrol.agent.health;

import java.util.List;

/** What {@code /livez} and {@code /readyz} report. Called on the HTTP thread: must not block. */
public interface HealthChecks {

  /** Is the process itself working (its own loops run)? Never depends on etcd. */
  List<Check> liveness();

  /** Is the agent doing its job in etcd (registered, and leading on a live lease)? */
  List<Check> readiness();
}
