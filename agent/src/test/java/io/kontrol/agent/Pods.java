package io.kontrol.agent;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** Test helpers: agent environments and reads of a group straight from etcd. */
final class Pods {
  private Pods() {}

  /** A fresh app name, so tests sharing a cluster never share a group. */
  static String app(String base) {
    return base + ThreadLocalRandom.current().nextInt(100_000, 999_999);
  }

  /**
   * The environment of a pod {@code id} of {@code app} reporting to {@code master} (its group),
   * with small timings: TTL 2 s, FOVER 3 s, damper 0.
   */
  static Map<String, String> env(EtcdCluster etcd, String app, String master, String id, String mode) {
    Map<String, String> e = new HashMap<>();
    e.put("KONTROL_ETCD", etcd.endpointList());
    e.put("KONTROL_MODE", mode);
    e.put("KONTROL_ID", id);
    e.put("KONTROL_IP", "127.0.0." + (2 + Math.floorMod(id.hashCode(), 250)));
    e.put("KONTROL_LABELS", "{\"app\":\"" + app + "\",\"role\":\"test\"}");
    e.put("KONTROL_ANNOTATIONS", "{\"kontrol.unity3d.com/master\":\"" + master + "\"}");
    e.put("KONTROL_TTL", "2");
    e.put("KONTROL_FOVER", "3");
    e.put("KONTROL_DAMPER", "0");
    e.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    return e;
  }

  static Agent start(Map<String, String> env) {
    return Agent.start(AgentConfig.fromEnvironment(env));
  }

  static Group group(String app) {
    return new Group("default", app);
  }

  /** id → record JSON of the live records in a group. */
  static Map<String, String> records(Client c, Group g) throws Exception {
    List<KeyValue> kvs =
        c.getKVClient()
            .get(bytes(g.podsPrefix()), GetOption.builder().isPrefix(true).build())
            .get(5, TimeUnit.SECONDS)
            .getKvs();
    Map<String, String> out = new LinkedHashMap<>();
    for (KeyValue kv : kvs) {
      out.put(
          kv.getKey().toString(StandardCharsets.UTF_8).substring(g.podsPrefix().length()),
          kv.getValue().toString(StandardCharsets.UTF_8));
    }
    return out;
  }

  static KeyValue get(Client c, String key) throws Exception {
    List<KeyValue> kvs = c.getKVClient().get(bytes(key)).get(5, TimeUnit.SECONDS).getKvs();
    return kvs.isEmpty() ? null : kvs.get(0);
  }

  static String value(Client c, String key) throws Exception {
    KeyValue kv = get(c, key);
    return kv == null ? null : kv.getValue().toString(StandardCharsets.UTF_8);
  }

  /** The agents among {@code agents} that lead {@code g} now. */
  static List<Agent> leaders(List<Agent> agents, Group g) {
    List<Agent> out = new ArrayList<>();
    for (Agent a : agents) {
      if (a.status().leads(g)) {
        out.add(a);
      }
    }
    return out;
  }

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  static void closeAll(List<Agent> agents) {
    agents.parallelStream().forEach(Agent::close);
  }

  /** {@code kontrol run} as a process of its own, with exactly {@code env}, output to {@code log}. */
  static Process kontrolRun(Map<String, String> env, Path log) throws IOException {
    String bin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(bin, "-cp", System.getProperty("java.class.path"), "io.kontrol.agent.cli.KontrolCommand", "run")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().clear();
    pb.environment().putAll(env);
    // a free port for /metrics, /livez, /readyz: several agents of a test share this host
    pb.environment().putIfAbsent("KONTROL_HTTP_PORT", "0");
    return pb.start();
  }
}
