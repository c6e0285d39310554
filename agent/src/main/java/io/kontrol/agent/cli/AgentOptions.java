package io.kontrol.agent.cli;

import io.kontrol.agent.config.AgentConfig;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The agent's flags, each overriding one variable of SPEC §3. Shared by {@code kontrol} (no
 * subcommand runs the agent, as the original) and {@code kontrol run}.
 */
final class AgentOptions {
  @Option(
      names = {"-d", "--debug"},
      description = "Debug mode: master + slave against a local etcd (127.0.0.1:2379 unless --etcd).")
  boolean debug;

  @Option(names = {"-m", "--mode"}, paramLabel = "MODES", description = "KONTROL_MODE: comma list of slave, master, debug, verbose.")
  String mode;

  @Option(names = "--etcd", paramLabel = "ENDPOINTS", description = "KONTROL_ETCD: host, host:port or http(s)://host:port, comma-separated.")
  String etcd;

  @Option(names = "--port", description = "KONTROL_PORT: peer gRPC port (default 8000).")
  String port;

  @Option(names = "--ttl", paramLabel = "SECONDS", description = "KONTROL_TTL: registration lease TTL (default 25).")
  String ttl;

  @Option(names = "--damper", paramLabel = "SECONDS", description = "KONTROL_DAMPER: quiet time before the callback (default 10).")
  String damper;

  @Option(names = "--damper-max", paramLabel = "SECONDS", description = "KONTROL_DAMPER_MAX: longest wait after the first change (default 4 x damper).")
  String damperMax;

  @Option(names = "--fover", paramLabel = "SECONDS", description = "KONTROL_FOVER: leader fail-over time, the election lease TTL (default 60).")
  String fover;

  @Option(names = "--callback", paramLabel = "COMMAND", description = "KONTROL_CALLBACK: command the leader runs when its group changes.")
  String callback;

  @Option(names = "--callback-timeout", paramLabel = "SECONDS", description = "KONTROL_CALLBACK_TIMEOUT (default 60).")
  String callbackTimeout;

  @Option(names = "--payload", paramLabel = "FILE", description = "KONTROL_PAYLOAD: JSON file attached to this pod's record.")
  String payload;

  @Option(names = "--id", description = "KONTROL_ID: pod id (default: host name).")
  String id;

  @Option(names = "--ip", description = "KONTROL_IP: pod IPv4.")
  String ip;

  @Option(names = "--labels", paramLabel = "JSON", description = "KONTROL_LABELS: JSON object with app and role.")
  String labels;

  @Option(names = "--annotations", paramLabel = "JSON", description = "KONTROL_ANNOTATIONS: JSON object (kontrol.unity3d.com/master, ...).")
  String annotations;

  @Option(names = "--namespace", description = "NAMESPACE (default: default).")
  String namespace;

  /** Builds the configuration: {@code env}, overridden by the flags given. */
  AgentConfig config(Map<String, String> env) {
    Map<String, String> o = new HashMap<>();
    String modes = mode != null ? mode : env.get(AgentConfig.KONTROL_MODE);
    if (debug) {
      modes = modes == null || modes.isBlank() ? "debug" : modes + ",debug";
    }
    o.put(AgentConfig.KONTROL_MODE, modes);
    o.put(AgentConfig.KONTROL_ETCD, etcd);
    o.put(AgentConfig.KONTROL_PORT, port);
    o.put(AgentConfig.KONTROL_TTL, ttl);
    o.put(AgentConfig.KONTROL_DAMPER, damper);
    o.put(AgentConfig.KONTROL_DAMPER_MAX, damperMax);
    o.put(AgentConfig.KONTROL_FOVER, fover);
    o.put(AgentConfig.KONTROL_CALLBACK, callback);
    o.put(AgentConfig.KONTROL_CALLBACK_TIMEOUT, callbackTimeout);
    o.put(AgentConfig.KONTROL_PAYLOAD, payload);
    o.put(AgentConfig.KONTROL_ID, id);
    o.put(AgentConfig.KONTROL_IP, ip);
    o.put(AgentConfig.KONTROL_LABELS, labels);
    o.put(AgentConfig.KONTROL_ANNOTATIONS, annotations);
    o.put(AgentConfig.NAMESPACE, namespace);
    return AgentConfig.from(env, o);
  }
}
