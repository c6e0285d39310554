package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Helm's own checks: a strict lint of every chart, and every chart rendered with every value
 * variant ({@code ci/*.yaml}) for every supported Kubernetes version, each document loading as a
 * typed Kubernetes object with no unknown field ({@link Manifests}).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class LintAndTemplateTest {

  static Stream<String> charts() {
    return Charts.ALL.stream();
  }

  @ParameterizedTest
  @MethodSource("charts")
  void everyChartLintsStrictlyWithoutAWarning(String chart) {
    LintResult lint = new Helm(Charts.chart(chart)).lint().strict().call();
    assertThat(lint.getMessages()).as("lint messages of %s", chart)
        .noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    assertThat(lint.isFailed()).as("lint of %s failed: %s", chart, lint.getMessages()).isFalse();
  }

  static Stream<Arguments> variants() {
    return Charts.APPLICATIONS.stream().flatMap(chart -> Charts.ciValues(chart).stream()
        .flatMap(values -> Charts.KUBE_VERSIONS.stream().map(kube -> Arguments.of(chart, values.getFileName().toString(), kube))));
  }

  @ParameterizedTest(name = "{0} {1} on Kubernetes {2}")
  @MethodSource("variants")
  void everyVariantRendersAsTypedObjectsWithNoUnknownField(String chart, String values, String kube) {
    Path file = Charts.chart(chart).resolve("ci").resolve(values);
    List<Manifests.Doc> docs = Manifests.load(Charts.template(chart, file, kube));
    assertThat(docs).as("%s %s", chart, values).isNotEmpty();
  }

  @ParameterizedTest
  @MethodSource("charts")
  void everyApplicationChartHasAtLeastThreeVariants(String chart) {
    if (!Charts.APPLICATIONS.contains(chart)) {
      return;
    }
    assertThat(Charts.ciValues(chart)).hasSizeGreaterThanOrEqualTo(3)
        .anyMatch(p -> p.getFileName().toString().startsWith("default"))
        .anyMatch(p -> p.getFileName().toString().startsWith("ha"));
  }
}
