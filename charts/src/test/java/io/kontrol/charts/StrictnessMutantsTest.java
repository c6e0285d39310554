package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The strict load of {@link Manifests} can fail: each mutant is a plausible mistake in a chart (in
 * a copy of the charts), and the suite's check must refuse its rendering, naming the mistake.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class StrictnessMutantsTest {

  private static Path copy;

  @BeforeAll
  static void copyTheCharts() {
    copy = Charts.freshCopy("mutants");
  }

  private static String mutated(String chart, String file, String from, String to) {
    Path path = copy.resolve(chart).resolve(file);
    String original = Charts.read(path);
    Charts.replace(path, from, to);
    try {
      if (chart.equals("kontrol-common")) {
        Charts.buildDependencies(copy);
      }
      return Charts.template(copy.resolve("nats"), null, "1.33.0", Map.of());
    } finally {
      Charts.write(path, original);
      if (chart.equals("kontrol-common")) {
        Charts.buildDependencies(copy);
      }
    }
  }

  @Test
  void theUnmutatedCopyPasses() {
    assertThat(Manifests.load(Charts.template(copy.resolve("nats"), null, "1.33.0", Map.of()))).isNotEmpty();
  }

  @Test
  void aMisspelledFieldIsRefusedWithItsPath() {
    String rendered = mutated("nats", "templates/statefulset.yaml", "readinessProbe:", "readinesProbe:");
    assertThatThrownBy(() -> Manifests.load(rendered))
        .hasMessageContaining("nats/templates/statefulset.yaml")
        .hasMessageContaining("fields the Kubernetes API does not have")
        .hasMessageContaining("StatefulSet.spec.template.spec.containers[0].readinesProbe");
  }

  @Test
  void aMisspelledFieldDeepInAListIsRefused() {
    String rendered = mutated("kontrol-common", "templates/_agent.tpl",
        "- name: NAMESPACE\n  valueFrom:", "- name: NAMESPACE\n  valuesFrom:");
    assertThatThrownBy(() -> Manifests.load(rendered))
        .hasMessageContaining("containers[0].env[0].valuesFrom");
  }

  @Test
  void aRemovedApiIsRefused() {
    String rendered = mutated("kontrol-common", "templates/_pdb.tpl", "apiVersion: policy/v1", "apiVersion: policy/v1beta1");
    assertThatThrownBy(() -> Manifests.load(rendered))
        .hasMessageContaining("nats/templates/pdb.yaml")
        .hasMessageContaining("policy/v1beta1/PodDisruptionBudget is not served");
  }

  @Test
  void aWrongTypeIsRefused() {
    String rendered = mutated("nats", "templates/statefulset.yaml",
        "replicas: {{ .Values.replicas }}", "replicas: \"{{ .Values.replicas }}x\"");
    assertThatThrownBy(() -> Manifests.load(rendered))
        .hasMessageContaining("nats/templates/statefulset.yaml")
        .hasMessageContaining("does not load")
        .hasMessageContaining("3x");
  }

  @Test
  void anUnknownKindIsRefused() {
    String rendered = mutated("nats", "templates/services.yaml", "kind: Service\n", "kind: Servce\n");
    assertThatThrownBy(() -> Manifests.load(rendered)).hasMessageContaining("unknown kind v1/Servce");
  }
}
