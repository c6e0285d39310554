package io.kontrol.service.haproxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/**
 * What one {@code configure} did, as it goes into the pod's payload (key {@code haproxy}) and the
 * log.
 *
 * @param ok whether the wanted configuration runs now
 * @param stage where it failed: {@code render}, {@code check} or {@code reload}; null when ok
 * @param message why it failed, or what was done
 * @param mode {@code noop} (the rendering equals the running file), {@code runtime} (server
 *     addresses or states changed through the runtime API, no reload), {@code reload}, {@code
 *     start} (HAProxy was not running); for a failure, the step that was attempted
 * @param reloads the master's reload count ({@code show proc}), -1 when it is not running
 * @param failedReloads the failed reloads since the last successful one
 * @param workerPid the current worker, -1 when none
 * @param sha256 of the configuration file that runs now
 * @param hostsMd5 MD5 of the canonical {@code hosts} this was asked to apply
 */
public record Outcome(
    boolean ok,
    String stage,
    String message,
    String mode,
    int reloads,
    int failedReloads,
    long masterPid,
    long workerPid,
    int oldWorkers,
    String sha256,
    String hostsMd5,
    long durationMs,
    Instant at) {

  private static final ObjectMapper JSON = new ObjectMapper();

  public ObjectNode toJson() {
    ObjectNode node = JSON.createObjectNode();
    node.put("status", ok ? "ok" : "error");
    if (stage != null) {
      node.put("stage", stage);
    }
    node.put("message", message);
    node.put("mode", mode);
    node.put("reloads", reloads);
    node.put("failedReloads", failedReloads);
    node.put("masterPid", masterPid);
    node.put("workerPid", workerPid);
    node.put("oldWorkers", oldWorkers);
    node.put("sha256", sha256);
    node.put("hosts", hostsMd5);
    node.put("durationMs", durationMs);
    node.put("at", at.toString());
    return node;
  }

  /** One log line: {@code configure ok mode=reload reloads=3 ...} or {@code configure FAILED stage=check ...}. */
  public String logLine() {
    return "configure " + (ok ? "ok" : "FAILED stage=" + stage) + " mode=" + mode + " reloads=" + reloads
        + " failed=" + failedReloads + " worker=" + workerPid + " hosts=" + hostsMd5 + " in " + durationMs + " ms: " + message;
  }
}
