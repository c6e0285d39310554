package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.DryRun;
import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@code helm test} pods and NOTES.txt, which {@code helm template} leaves out (helm-java
 * returns only the release's manifest): the test pods are rendered from a copy of each chart in
 * which their hook annotation is dropped, then loaded strictly like every other object; NOTES come
 * from a client-only dry-run install.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class HooksAndNotesTest {

  private static Path copy;

  @BeforeAll
  static void copyWithHooksAsPlainTemplates() throws IOException {
    copy = Charts.freshCopy("hooks");
    for (String chart : Charts.APPLICATIONS) {
      try (Stream<Path> tests = Files.list(copy.resolve(chart).resolve("templates/tests"))) {
        for (Path t : tests.toList()) {
          if (Charts.read(t).contains("helm.sh/hook: test")) {
            Charts.replace(t, "helm.sh/hook: test", "kontrol.test/hook: test");
          }
        }
      }
    }
    Charts.replace(copy.resolve("kontrol-common/templates/_test.tpl"), "helm.sh/hook: test", "kontrol.test/hook: test");
    Charts.buildDependencies(copy);
  }

  private static PodTemplateSpec template(List<Manifests.Doc> docs) {
    return docs.stream().map(Manifests.Doc::object)
        .map(o -> o instanceof StatefulSet s ? s.getSpec().getTemplate() : o instanceof Deployment d ? d.getSpec().getTemplate()
            : o instanceof DaemonSet ds ? ds.getSpec().getTemplate() : null)
        .filter(Objects::nonNull).findFirst().orElseThrow();
  }

  private static String env(Container c, String name) {
    return c.getEnv().stream().filter(e -> e.getName().equals(name)).map(EnvVar::getValue).findFirst().orElse(null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"etcd", "nats", "haproxy", "kafka"})
  void eachChartHasATestPodThatChecksTheMembersItRuns(String chart) throws IOException {
    try (Stream<Path> tests = Files.list(Charts.chart(chart).resolve("templates/tests"))) {
      assertThat(tests.toList()).as("templates/tests of %s", chart).isNotEmpty();
    }
    String original = Charts.read(chart.equals("etcd") ? Charts.chart("etcd").resolve("templates/tests/test-members.yaml")
        : Charts.chart("kontrol-common").resolve("templates/_test.tpl"));
    assertThat(original).contains("helm.sh/hook: test", "hook-delete-policy");

    List<Manifests.Doc> docs = Manifests.load(Charts.template(copy.resolve(chart), null, "1.33.0", Map.of("replicas", "5")));
    Pod test = docs.stream().map(Manifests.Doc::object).filter(Pod.class::isInstance).map(Pod.class::cast).findFirst()
        .orElseThrow(() -> new AssertionError(chart + " renders no test pod"));
    assertThat(test.getMetadata().getAnnotations()).containsEntry("kontrol.test/hook", "test");
    assertThat(test.getSpec().getRestartPolicy()).isEqualTo("Never");
    Container c = test.getSpec().getContainers().get(0);
    Container service = template(docs).getSpec().getContainers().get(0);
    assertThat(c.getImage()).isEqualTo(service.getImage());
    assertThat(env(c, "MEMBERS")).as("members expected").isEqualTo("5");
    if (chart.equals("etcd")) {
      assertThat(String.join(" ", c.getArgs())).contains("etcdctl endpoint health --cluster", "etcdctl member list");
    } else {
      assertThat(env(c, "KONTROL_ETCD")).isEqualTo(env(service, "KONTROL_ETCD"));
      assertThat(env(c, "GROUP")).isEqualTo(Charts.NAMESPACE + "/" + template(docs).getMetadata().getLabels().get("app"));
      assertThat(env(c, "KONTROL_TOKEN_FILE")).isEqualTo(env(service, "KONTROL_TOKEN_FILE"));
      assertThat(String.join(" ", c.getArgs())).contains("kontrol status --group \"$GROUP\" --format json");
    }
    if (chart.equals("haproxy")) {
      List<HasMetadata> ds = Manifests.load(Charts.template(copy.resolve(chart), null, "1.33.0", Map.of("kind", "DaemonSet")))
          .stream().map(Manifests.Doc::object).filter(Pod.class::isInstance).toList();
      assertThat(env(((Pod) ds.get(0)).getSpec().getContainers().get(0), "MEMBERS")).as("a DaemonSet: at least one").isEqualTo("0");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"etcd", "nats", "haproxy", "kafka"})
  void notesTellHowToSeeTheGroup(String chart) {
    String out = new Helm(Charts.chart(chart)).install().withName(chart).withNamespace(Charts.NAMESPACE)
        .withKubeVersion("1.33.0").dryRun().withDryRunOption(DryRun.CLIENT).clientOnly().call().getOutput();
    assertThat(out).contains("NOTES:", "helm test " + chart + " -n " + Charts.NAMESPACE);
    String notes = out.substring(out.indexOf("NOTES:"));
    if (chart.equals("etcd")) {
      assertThat(notes).contains("etcdctl member list", "kontrol.etcd.endpoints");
    } else {
      assertThat(notes).contains("/kontrol/" + Charts.NAMESPACE + "/" + chart, "kontrol status --group " + Charts.NAMESPACE + "/" + chart,
          "/metrics");
    }
  }
}
