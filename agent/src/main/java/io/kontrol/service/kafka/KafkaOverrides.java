package io.kontrol.service.kafka;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The {@code kafka.unity3d.com/overrides} annotation: {@code key=value} lines over the image's
 * broker defaults, as the original took them ({@code default.replication.factor=3}, {@code
 * num.partitions=32}, {@code retention.ms=259200000}).
 *
 * <p>Blank lines and lines starting with {@code #} are skipped; whitespace around the key and the
 * value is trimmed. A topic-level name ({@code retention.ms}) is translated to the broker-level
 * default it stands for ({@code log.retention.ms}), as Kafka's {@code ServerTopicConfigSynonyms}
 * does. Keys the pod must own (its id, roles, listeners, log directories, quorum) are refused.
 * Every bad line is an error naming the line; the good lines still apply. Needs no Kafka jar, so
 * a chart or a CI check can validate an annotation with it.
 */
public final class KafkaOverrides {

  /** The pod annotation holding the overrides. */
  public static final String ANNOTATION = "kafka.unity3d.com/overrides";

  /** Keys the pod sets itself: an override of any of them is refused. */
  public static final Set<String> MANAGED =
      Collections.unmodifiableSet(
          new TreeSet<>(
              List.of(
                  "node.id",
                  "broker.id",
                  "process.roles",
                  "listeners",
                  "advertised.listeners",
                  "listener.security.protocol.map",
                  "controller.listener.names",
                  "inter.broker.listener.name",
                  "controller.quorum.voters",
                  "controller.quorum.bootstrap.servers",
                  "controller.quorum.auto.join.enable",
                  "log.dir",
                  "log.dirs",
                  "metadata.log.dir",
                  "cluster.id")));

  /**
   * Topic-level name to the broker-level default it overrides (Kafka's {@code
   * ServerTopicConfigSynonyms.TOPIC_CONFIG_SYNONYMS} as of 4.3, checked against it by a test).
   * Names equal on both levels ({@code min.insync.replicas}) need no entry.
   */
  public static final Map<String, String> TOPIC_SYNONYMS;

  static {
    Map<String, String> m = new TreeMap<>();
    m.put("segment.bytes", "log.segment.bytes");
    m.put("segment.ms", "log.roll.ms");
    m.put("segment.jitter.ms", "log.roll.jitter.ms");
    m.put("segment.index.bytes", "log.index.size.max.bytes");
    m.put("flush.messages", "log.flush.interval.messages");
    m.put("flush.ms", "log.flush.interval.ms");
    m.put("retention.bytes", "log.retention.bytes");
    m.put("retention.ms", "log.retention.ms");
    m.put("max.message.bytes", "message.max.bytes");
    m.put("index.interval.bytes", "log.index.interval.bytes");
    m.put("delete.retention.ms", "log.cleaner.delete.retention.ms");
    m.put("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms");
    m.put("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms");
    m.put("file.delete.delay.ms", "log.segment.delete.delay.ms");
    m.put("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio");
    m.put("cleanup.policy", "log.cleanup.policy");
    m.put("preallocate", "log.preallocate");
    m.put("message.timestamp.type", "log.message.timestamp.type");
    m.put("message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms");
    m.put("message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms");
    m.put("local.retention.ms", "log.local.retention.ms");
    m.put("local.retention.bytes", "log.local.retention.bytes");
    TOPIC_SYNONYMS = Collections.unmodifiableMap(m);
  }

  private final Map<String, String> values;
  private final List<String> errors;

  private KafkaOverrides(Map<String, String> values, List<String> errors) {
    this.values = Collections.unmodifiableMap(values);
    this.errors = List.copyOf(errors);
  }

  /** No overrides. */
  public static KafkaOverrides none() {
    return new KafkaOverrides(new LinkedHashMap<>(), List.of());
  }

  /**
   * Parses the annotation's text (null or blank: no overrides).
   *
   * @return the usable overrides by broker-level name, in order, and one error per refused line
   */
  public static KafkaOverrides parse(String text) {
    Map<String, String> values = new LinkedHashMap<>();
    Map<String, Integer> lineOf = new LinkedHashMap<>();
    List<String> errors = new ArrayList<>();
    if (text == null || text.isBlank()) {
      return none();
    }
    String[] lines = text.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      int n = i + 1;
      String line = lines[i].strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int eq = line.indexOf('=');
      if (eq < 0) {
        errors.add(where(n) + "'" + line + "' is not key=value");
        continue;
      }
      String key = line.substring(0, eq).strip();
      String value = line.substring(eq + 1).strip();
      if (key.isEmpty()) {
        errors.add(where(n) + "'" + line + "' has no key before '='");
        continue;
      }
      if (!key.matches("[A-Za-z0-9._-]+")) {
        errors.add(where(n) + "key '" + key + "' is not a Kafka configuration name (letters, digits, '.', '_', '-')");
        continue;
      }
      String broker = TOPIC_SYNONYMS.getOrDefault(key, key);
      if (MANAGED.contains(broker)) {
        errors.add(where(n) + "'" + key + "' is set by the pod itself and cannot be overridden");
        continue;
      }
      Integer first = lineOf.get(broker);
      if (first != null) {
        errors.add(
            where(n) + "'" + key + "' sets " + broker + " again (line " + first + " set it); the first one is kept");
        continue;
      }
      lineOf.put(broker, n);
      values.put(broker, value);
    }
    return new KafkaOverrides(values, errors);
  }

  private static String where(int line) {
    return ANNOTATION + " line " + line + ": ";
  }

  /** The accepted overrides, broker-level names, in annotation order. */
  public Map<String, String> values() {
    return values;
  }

  /** One message per refused line (empty when every line was accepted). */
  public List<String> errors() {
    return errors;
  }

  public boolean ok() {
    return errors.isEmpty();
  }
}
