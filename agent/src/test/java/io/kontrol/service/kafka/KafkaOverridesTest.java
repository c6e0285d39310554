package io.kontrol.service.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.server.config.ServerTopicConfigSynonyms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class KafkaOverridesTest {

  @Test
  void theOriginalAnnotationMapsTopicNamesToBrokerNames() {
    KafkaOverrides o = KafkaOverrides.parse("default.replication.factor=3\nnum.partitions=32\nretention.ms=259200000\n");
    assertThat(o.ok()).isTrue();
    assertThat(o.values())
        .containsExactly(
            Map.entry("default.replication.factor", "3"),
            Map.entry("num.partitions", "32"),
            Map.entry("log.retention.ms", "259200000"));
  }

  @Test
  void commentsBlankLinesAndSpacesAreIgnored() {
    KafkaOverrides o = KafkaOverrides.parse("# a comment\n\n   num.partitions =  6  \r\n");
    assertThat(o.errors()).isEmpty();
    assertThat(o.values()).containsExactly(Map.entry("num.partitions", "6"));
  }

  @Test
  void aManagedKeyIsRefusedWithItsLineAndTheRestStillApplies() {
    KafkaOverrides o = KafkaOverrides.parse("num.partitions=6\nnode.id=7\nlog.dirs=/tmp/x\nretention.ms=1000");
    assertThat(o.values()).containsExactly(Map.entry("num.partitions", "6"), Map.entry("log.retention.ms", "1000"));
    assertThat(o.errors())
        .containsExactly(
            "kafka.unity3d.com/overrides line 2: 'node.id' is set by the pod itself and cannot be overridden",
            "kafka.unity3d.com/overrides line 3: 'log.dirs' is set by the pod itself and cannot be overridden");
  }

  @Test
  void malformedLinesAreNamed() {
    KafkaOverrides o = KafkaOverrides.parse("num.partitions\n=5\nbad key=1\nretention.ms=1\nlog.retention.ms=2");
    assertThat(o.values()).containsExactly(Map.entry("log.retention.ms", "1"));
    assertThat(o.errors())
        .containsExactly(
            "kafka.unity3d.com/overrides line 1: 'num.partitions' is not key=value",
            "kafka.unity3d.com/overrides line 2: '=5' has no key before '='",
            "kafka.unity3d.com/overrides line 3: key 'bad key' is not a Kafka configuration name (letters, digits, '.', '_', '-')",
            "kafka.unity3d.com/overrides line 5: 'log.retention.ms' sets log.retention.ms again (line 4 set it); the first one is kept");
  }

  @Test
  void noAnnotationIsNoOverride() {
    assertThat(KafkaOverrides.parse(null).values()).isEmpty();
    assertThat(KafkaOverrides.parse("  \n").ok()).isTrue();
  }

  /** The table is Kafka's own (ServerTopicConfigSynonyms), minus the names equal on both levels. */
  @Test
  void theSynonymTableIsKafkas() {
    Map<String, String> kafka = new TreeMap<>();
    ServerTopicConfigSynonyms.TOPIC_CONFIG_SYNONYMS.forEach(
        (topic, broker) -> {
          if (!topic.equals(broker)) {
            kafka.put(topic, broker);
          }
        });
    assertThat(KafkaOverrides.TOPIC_SYNONYMS).isEqualTo(kafka);
  }
}
