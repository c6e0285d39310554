package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad values are refused by the chart's {@code values.schema.json} before anything renders, with
 * the schema's message naming the field. Each file of {@code src/test/resources/bad-values/<chart>/}
 * is one bad value; its first line {@code # expect: ...} is what the message must say.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SchemaTest {

  private static final Path BAD = Path.of("src/test/resources/bad-values");

  static Stream<Arguments> badValues() throws IOException {
    return Charts.APPLICATIONS.stream().flatMap(chart -> {
      try (Stream<Path> files = Files.list(BAD.resolve(chart))) {
        return files.sorted().toList().stream().map(f -> Arguments.of(chart, f.getFileName().toString()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("badValues")
  void aBadValueIsRefusedWithTheSchemasMessage(String chart, String file) {
    Path values = BAD.resolve(chart).resolve(file).toAbsolutePath();
    String first = Charts.read(values).lines().findFirst().orElse("");
    assertThat(first).as("first line of %s", values).startsWith("# expect: ");
    String expected = first.substring("# expect: ".length());
    assertThatThrownBy(() -> Charts.template(chart, values, "1.33.0"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("values don't meet the specifications of the schema")
        .hasMessageContaining(expected);
  }

  @ParameterizedTest
  @ValueSource(strings = {"etcd", "nats", "haproxy", "kafka"})
  void everyChartHasAtLeastFiveBadValuesAndAClosedSchema(String chart) throws IOException {
    try (Stream<Path> files = Files.list(BAD.resolve(chart))) {
      assertThat(files.count()).isGreaterThanOrEqualTo(5);
    }
    JsonNode schema = new ObjectMapper().readTree(Charts.read(Charts.chart(chart).resolve("values.schema.json")));
    assertThat(schema.path("$schema").asText()).isEqualTo("http://json-schema.org/draft-07/schema#");
    assertThat(schema.path("additionalProperties").asBoolean(true)).as("top-level additionalProperties").isFalse();
    // every object the values file has is closed too, down to the leaves the chart passes through
    // as Kubernetes objects (affinity, resources, ...), which Kubernetes types check
    closed(schema, "", List.of("/properties/affinity", "/properties/resources", "/properties/podSecurityContext",
        "/properties/securityContext", "/properties/global", "/properties/kontrol-common", "/properties/etcd",
        "/properties/topologySpreadConstraints/items", "/properties/tolerations/items",
        "/properties/kontrol/properties/extraEnv/items/properties/valueFrom"));
  }

  private static void closed(JsonNode node, String path, List<String> open) {
    if (!node.isObject()) {
      return;
    }
    if ("object".equals(node.path("type").asText()) && !open.contains(path)) {
      assertThat(node.has("additionalProperties")).as("additionalProperties of %s", path).isTrue();
      assertThat(node.get("additionalProperties").isBoolean() ? !node.get("additionalProperties").asBoolean() : true)
          .as("%s is closed (false) or typed", path).isTrue();
    }
    node.fields().forEachRemaining(e -> closed(e.getValue(), path + "/" + e.getKey(), open));
  }

  @Test
  void theSharedPartsOfTheSchemasAreTheSameInEveryChart() throws IOException {
    ObjectMapper json = new ObjectMapper();
    JsonNode nats = json.readTree(Charts.read(Charts.chart("nats").resolve("values.schema.json"))).path("properties");
    for (String chart : List.of("haproxy", "kafka", "etcd")) {
      JsonNode other = json.readTree(Charts.read(Charts.chart(chart).resolve("values.schema.json"))).path("properties");
      for (String key : List.of("image", "imagePullSecrets", "podAnnotations", "podLabels", "podDisruptionBudget",
          "affinityPreset", "nodeSelector", "tests", "serviceAccount", "rbac", "kontrol")) {
        if (other.has(key) || !chart.equals("etcd")) {
          assertThat(other.path(key)).as("%s's schema of %s", chart, key).isEqualTo(nats.path(key));
        }
      }
    }
  }

  @Test
  void theDefaultsAreValid() {
    for (String chart : Charts.APPLICATIONS) {
      assertThat(Manifests.load(Charts.template(Charts.chart(chart), null, "1.29.0", Map.of()))).isNotEmpty();
    }
  }
}
