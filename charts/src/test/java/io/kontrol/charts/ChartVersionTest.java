package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The charts' versions follow the project's, and an upgrade can change no immutable field. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ChartVersionTest {

  static List<String> charts() {
    return Charts.ALL;
  }

  @ParameterizedTest
  @MethodSource("charts")
  @SuppressWarnings("unchecked")
  void versionAndAppVersionAreTheProjectsAndSoAreTheDependencies(String chart) throws Exception {
    Map<String, Object> meta = new ObjectMapper(new YAMLFactory()).readValue(Charts.read(Charts.chart(chart).resolve("Chart.yaml")), Map.class);
    assertThat(meta).containsEntry("version", Charts.projectVersion()).containsEntry("appVersion", Charts.projectVersion());
    for (Map<String, Object> dep : (List<Map<String, Object>>) meta.getOrDefault("dependencies", List.of())) {
      assertThat(dep).as("dependency of %s", chart).containsEntry("version", Charts.projectVersion());
      assertThat((String) dep.get("repository")).startsWith("file://../");
    }
  }

  @ParameterizedTest
  @MethodSource("charts")
  void everyChartPackages(String chart) throws Exception {
    Path out = Files.createDirectories(Charts.tree().resolve("packages"));
    new Helm(Charts.chart(chart)).packageIt().withDestination(out).call();
    assertThat(out.resolve(chart + "-" + Charts.projectVersion() + ".tgz")).isNotEmptyFile();
  }

  @Test
  void theStatefulSetsImmutableFieldsAreTheSameInTheNextVersion() {
    Path next = Charts.freshCopy("next-version");
    for (String chart : Charts.ALL) {
      Charts.replace(next.resolve(chart).resolve("Chart.yaml"), Charts.projectVersion(), "99.1.0");
    }
    Charts.buildDependencies(next);
    for (String chart : List.of("etcd", "nats", "kafka")) {
      for (Path values : Charts.ciValues(chart)) {
        StatefulSet now = Manifests.one(Manifests.load(Charts.template(chart, values, "1.33.0")), StatefulSet.class);
        StatefulSet later = Manifests.one(Manifests.load(Charts.template(next.resolve(chart),
            next.resolve(chart).resolve("ci").resolve(values.getFileName()), "1.33.0", Map.of())), StatefulSet.class);
        assertThat(later.getMetadata().getLabels().get("helm.sh/chart")).as("the copy is the next version").isEqualTo(chart + "-99.1.0");
        assertThat(later.getSpec().getSelector()).as("%s %s selector", chart, values.getFileName()).isEqualTo(now.getSpec().getSelector());
        assertThat(later.getSpec().getServiceName()).isEqualTo(now.getSpec().getServiceName());
        assertThat(later.getSpec().getPodManagementPolicy()).isEqualTo(now.getSpec().getPodManagementPolicy());
        assertThat(later.getSpec().getVolumeClaimTemplates()).as("%s %s volumeClaimTemplates", chart, values.getFileName())
            .isEqualTo(now.getSpec().getVolumeClaimTemplates());
      }
    }
  }
}
