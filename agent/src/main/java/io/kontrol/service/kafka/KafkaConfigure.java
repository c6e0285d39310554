package io.kontrol.service.kafka;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.agent.render.AtomicFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * The Kafka pod's {@code configure} state: checks the leader's input against the volume, writes
 * {@code server.properties}, formats an empty volume, and starts the broker.
 *
 * <p>The volume is authoritative: a volume formatted for another cluster, or with another node.id
 * than the leader expects, is refused (config_error in the payload, the volume untouched, the
 * broker not started). Nothing is ever reformatted. Bad override lines are reported as
 * config_error too, and the other lines still apply.
 */
public final class KafkaConfigure {

  /** What the pod does to its broker; the image's is supervisorctl and kafka-storage.sh. */
  public interface Broker {
    /** Whether supervisord runs (or is starting) the broker. */
    boolean running() throws IOException;

    /** Starts the broker program. */
    void start() throws IOException;

    /** {@code kafka-storage.sh format <args>}; throws with the tool's output when it fails. */
    void format(List<String> args) throws IOException;

    /** The running broker's own dynamic configuration. */
    LiveConfig live(int nodeId) throws IOException;
  }

  /**
   * Where the pod keeps things; {@code started} is the copy of {@code config} the running broker
   * was started with (kafka-server-start makes it).
   */
  public record Paths(Path dataDir, Path config, Path defaults) {
    public Path started() {
      return config.resolveSibling(config.getFileName() + ".started");
    }
  }

  /** Exit codes of the state's script. */
  public static final int OK = 0;

  public static final int FAILED = 1;
  public static final int BAD_INPUT = 2;

  private final Paths paths;
  private final PayloadFile payload;
  private final Broker broker;
  private final String host;
  private final Consumer<String> log;

  public KafkaConfigure(Paths paths, PayloadFile payload, Broker broker, String host, Consumer<String> log) {
    this.paths = paths;
    this.payload = payload;
    this.broker = broker;
    this.host = host;
    this.log = log;
  }

  /**
   * Publishes what this pod is before the leader has said anything: its host name and, when the
   * volume is formatted, the identity the volume carries. Run by the lifecycle's setup.
   */
  public int publish() {
    try {
      Optional<MetaProperties> meta = MetaProperties.read(paths.dataDir());
      payload.update(p -> describe(p, meta, null, null));
      log.accept(
          "kafka setup: host " + host + ", "
              + meta.map(m -> "volume of cluster " + m.clusterId() + " node.id " + m.nodeId()).orElse("empty volume"));
      return OK;
    } catch (IOException e) {
      log.accept("kafka setup: cannot read the volume: " + e.getMessage());
      reportQuietly("cannot read the volume: " + e.getMessage());
      return FAILED;
    }
  }

  /**
   * Applies one input from the leader.
   *
   * @param inputJson {@code $INPUT}
   * @param overridesText the {@code kafka.unity3d.com/overrides} annotation, or null
   */
  public int configure(String inputJson, String overridesText) {
    MemberInput in;
    try {
      in = MemberInput.parse(inputJson);
    } catch (IllegalArgumentException e) {
      log.accept("kafka configure: " + e.getMessage() + "; nothing changed");
      return BAD_INPUT;
    }
    Optional<MetaProperties> meta;
    try {
      meta = MetaProperties.read(paths.dataDir());
    } catch (IOException e) {
      return refuse("cannot read the volume (" + e.getMessage() + "): not starting, the volume is left untouched", Optional.empty(), in);
    }
    if (in.refuse() != null) {
      return refuse(in.refuse(), meta, in);
    }
    if (meta.isPresent()) {
      MetaProperties m = meta.get();
      if (!m.clusterId().equals(in.clusterId())) {
        return refuse(
            "the volume " + paths.dataDir() + " belongs to Kafka cluster " + m.clusterId() + ", this group's is "
                + in.clusterId() + ": not starting, the volume is left untouched",
            meta,
            in);
      }
      if (m.nodeId() != in.nodeId()) {
        return refuse(
            "the volume " + paths.dataDir() + " holds node.id " + m.nodeId() + ", the leader expects " + in.nodeId()
                + ": not starting, the volume is left untouched",
            meta,
            in);
      }
    }

    KafkaOverrides overrides = KafkaOverrides.parse(overridesText);
    Map<String, String> config;
    try {
      Map<String, String> defaults =
          BrokerConfig.parseProperties(Files.readString(paths.defaults(), StandardCharsets.UTF_8));
      config =
          BrokerConfig.merge(
              defaults,
              overrides.values(),
              new BrokerConfig.Identity(in.nodeId(), in.controller(), host, in.bootstrap(), paths.dataDir().toString()));
      AtomicFile.write(paths.config(), BrokerConfig.render(config));
    } catch (IOException e) {
      log.accept("kafka configure: cannot write " + paths.config() + ": " + e.getMessage());
      reportQuietly("cannot write " + paths.config() + ": " + e.getMessage());
      return FAILED;
    }

    try {
      if (meta.isEmpty()) {
        List<String> args = new ArrayList<>(List.of("--cluster-id", in.clusterId(), "--config", paths.config().toString()));
        boolean initial = in.controller() && in.initialControllers() != null && isInitial(in.initialControllers(), in.nodeId());
        if (initial) {
          args.addAll(List.of("--initial-controllers", in.initialControllers()));
        } else {
          args.add("--no-initial-controllers");
        }
        broker.format(args);
        meta = MetaProperties.read(paths.dataDir());
        log.accept(
            "kafka configure: formatted " + paths.dataDir() + " for cluster " + in.clusterId() + " as node.id " + in.nodeId()
                + (initial ? " (initial controllers " + in.initialControllers() + ")" : " (joins the running cluster)"));
      }
      Optional<MetaProperties> formatted = meta;
      String initial = in.initialControllers();
      String error = overrides.ok() ? null : String.join("; ", overrides.errors());
      payload.update(
          p -> {
            describe(p, formatted, in, initial);
            if (error == null) {
              p.remove("config_error");
            } else {
              p.put("config_error", error);
            }
          });
      if (error != null) {
        log.accept("kafka configure: overrides refused (the other lines apply): " + error);
      }
      if (!broker.running()) {
        broker.start();
        log.accept("kafka configure: broker node.id " + in.nodeId() + " started (" + (in.controller() ? "broker,controller" : "broker") + ")");
      } else {
        live(in.nodeId(), config);
      }
      payload.update(p -> kafka(p).put("started", true));
      return OK;
    } catch (IOException e) {
      log.accept("kafka configure: " + e.getMessage());
      reportQuietly(e.getMessage());
      return FAILED;
    }
  }

  /**
   * Brings the running broker to {@code desired} without a restart where Kafka allows it: a key
   * whose value differs from the one the broker started with is set dynamically (on this broker);
   * a key back at its start value, or gone from a start file that never had it, loses its
   * dynamic value. What the broker refuses to change at run time (read-only keys), and a key the
   * start file had that is now gone, waits for the next start: {@code kafka.restart_pending}.
   */
  private void live(int nodeId, Map<String, String> desired) throws IOException {
    Map<String, String> started =
        Files.exists(paths.started())
            ? BrokerConfig.parseProperties(Files.readString(paths.started(), StandardCharsets.UTF_8))
            : desired;
    Map<String, String> wanted = new TreeMap<>(desired);
    Map<String, String> running = new TreeMap<>(started);
    KafkaOverrides.MANAGED.forEach(k -> {
      wanted.remove(k);
      running.remove(k);
    });
    boolean hadDynamic = payload.read().path("kafka").path("dynamic").size() > 0;
    if (wanted.equals(running) && !hadDynamic) {
      log.accept("kafka configure: broker node.id " + nodeId + " already running with this configuration");
      payload.update(p -> {
        kafka(p).remove("restart_pending");
      });
      return;
    }
    Map<String, String> set = new TreeMap<>();
    Set<String> delete = new TreeSet<>();
    List<String> restart = new ArrayList<>();
    Map<String, String> dynamic;
    List<String> readOnly;
    try (LiveConfig live = broker.live(nodeId)) {
      dynamic = live.dynamic();
      Set<String> keys = new TreeSet<>(wanted.keySet());
      keys.addAll(running.keySet());
      keys.addAll(dynamic.keySet());
      keys.removeAll(KafkaOverrides.MANAGED);
      for (String k : keys) {
        String d = wanted.get(k);
        String s = running.get(k);
        String y = dynamic.get(k);
        if (d != null) {
          if (d.equals(s)) {
            if (y != null) {
              delete.add(k);
            }
          } else if (!d.equals(y)) {
            set.put(k, d);
          }
        } else if (s != null) {
          restart.add(k);
        } else if (y != null) {
          delete.add(k);
        }
      }
      readOnly = live.apply(set, delete);
    } catch (Exception e) {
      throw new IOException("cannot change the running broker's configuration: " + e.getMessage(), e);
    }
    restart.addAll(readOnly);
    Map<String, String> now = new TreeMap<>(dynamic);
    delete.forEach(now::remove);
    set.forEach((k, v) -> {
      if (!readOnly.contains(k)) {
        now.put(k, v);
      }
    });
    List<String> pending = restart.stream().sorted().toList();
    payload.update(p -> {
      ObjectNode k = kafka(p);
      if (now.isEmpty()) {
        k.remove("dynamic");
      } else {
        ObjectNode d = k.putObject("dynamic");
        now.forEach(d::put);
      }
      if (pending.isEmpty()) {
        k.remove("restart_pending");
      } else {
        k.putArray("restart_pending").addAll(pending.stream().map(com.fasterxml.jackson.databind.node.TextNode::valueOf).toList());
      }
    });
    Map<String, String> applied = new TreeMap<>(set);
    readOnly.forEach(applied::remove);
    log.accept(
        "kafka configure: broker node.id " + nodeId + " running; changed at run time: " + (applied.isEmpty() ? "nothing" : applied)
            + (delete.isEmpty() ? "" : ", back to the start value: " + delete)
            + (pending.isEmpty() ? "" : "; at the next start (read-only or removed): " + pending));
  }

  private static boolean isInitial(String initialControllers, int nodeId) {
    for (String entry : initialControllers.split(",")) {
      if (entry.strip().startsWith(nodeId + "@")) {
        return true;
      }
    }
    return false;
  }

  private int refuse(String reason, Optional<MetaProperties> meta, MemberInput in) {
    log.accept("kafka configure: REFUSED: " + reason);
    try {
      payload.update(
          p -> {
            describe(p, meta, in, null);
            p.put("config_error", reason);
            kafka(p).put("started", false);
          });
    } catch (IOException e) {
      log.accept("kafka configure: cannot write the payload: " + e.getMessage());
      return FAILED;
    }
    // the leader reads the refusal from the payload; running the state again cannot help
    return OK;
  }

  private void describe(ObjectNode p, Optional<MetaProperties> meta, MemberInput in, String initial) {
    ObjectNode k = kafka(p);
    k.put("host", host);
    k.put("formatted", meta.isPresent());
    meta.ifPresentOrElse(
        m -> {
          k.put("cluster_id", m.clusterId());
          k.put("node_id", m.nodeId());
          k.put("directory_id", m.directoryId());
        },
        () -> {
          k.remove("cluster_id");
          k.remove("node_id");
          k.remove("directory_id");
        });
    if (initial != null && meta.isPresent()) {
      k.put("initial_controllers", initial);
    }
    if (in != null && meta.isPresent() && in.seq() != meta.get().nodeId()) {
      k.put("seq_mismatch", "node.id " + meta.get().nodeId() + " from the volume, seq " + in.seq() + " from the group");
    } else {
      k.remove("seq_mismatch");
    }
  }

  private static ObjectNode kafka(ObjectNode p) {
    return p.has("kafka") && p.get("kafka").isObject() ? (ObjectNode) p.get("kafka") : p.putObject("kafka");
  }

  private void reportQuietly(String reason) {
    try {
      payload.update(p -> p.put("config_error", reason));
    } catch (IOException e) {
      log.accept("kafka: cannot write the payload: " + e.getMessage());
    }
  }
}
