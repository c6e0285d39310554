package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** What must hold in every rendered variant of every chart, beyond what Kubernetes would check. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class InvariantsTest {

  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final List<String> STANDARD_LABELS = List.of("helm.sh/chart", "app.kubernetes.io/name",
      "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by");

  /** A workload: what the invariants need of a StatefulSet, Deployment or DaemonSet. */
  record Workload(HasMetadata object, Map<String, String> selector, PodTemplateSpec template) {
    static Workload of(HasMetadata o) {
      if (o instanceof StatefulSet s) {
        return new Workload(o, s.getSpec().getSelector().getMatchLabels(), s.getSpec().getTemplate());
      }
      if (o instanceof Deployment d) {
        return new Workload(o, d.getSpec().getSelector().getMatchLabels(), d.getSpec().getTemplate());
      }
      if (o instanceof DaemonSet d) {
        return new Workload(o, d.getSpec().getSelector().getMatchLabels(), d.getSpec().getTemplate());
      }
      return null;
    }
  }

  static Stream<Arguments> variants() {
    return Charts.APPLICATIONS.stream().flatMap(chart -> Charts.ciValues(chart).stream()
        .map(values -> Arguments.of(chart, values.getFileName().toString())));
  }

  private static List<Manifests.Doc> render(String chart, String values) {
    Path file = Charts.chart(chart).resolve("ci").resolve(values);
    return Manifests.load(Charts.template(chart, file, "1.33.0"));
  }

  private static List<Workload> workloads(List<Manifests.Doc> docs) {
    return docs.stream().map(d -> Workload.of(d.object())).filter(Objects::nonNull).toList();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("variants")
  void selectorsMatchTheirPodsAndPodsCarryAppAndRole(String chart, String values) {
    List<Manifests.Doc> docs = render(chart, values);
    List<Workload> workloads = workloads(docs);
    assertThat(workloads).hasSize(1);
    for (Workload w : workloads) {
      Map<String, String> labels = w.template().getMetadata().getLabels();
      assertThat(labels).as("pod labels of %s", w.object().getMetadata().getName())
          .containsAllEntriesOf(w.selector())
          .containsKeys("app", "role")
          .containsKeys(STANDARD_LABELS.toArray(String[]::new));
      assertThat(w.selector()).as("selector").isNotEmpty().doesNotContainKeys("helm.sh/chart", "app.kubernetes.io/version");
      for (Service s : Manifests.all(docs, Service.class)) {
        assertThat(labels).as("pods behind Service %s", s.getMetadata().getName())
            .containsAllEntriesOf(s.getSpec().getSelector());
      }
      for (PodDisruptionBudget pdb : Manifests.all(docs, PodDisruptionBudget.class)) {
        assertThat(labels).as("pods of PDB %s", pdb.getMetadata().getName())
            .containsAllEntriesOf(pdb.getSpec().getSelector().getMatchLabels());
      }
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("variants")
  void aStatefulSetsServiceIsHeadlessAndPublishesUnreadyPods(String chart, String values) {
    List<Manifests.Doc> docs = render(chart, values);
    for (StatefulSet sts : Manifests.all(docs, StatefulSet.class)) {
      String name = sts.getSpec().getServiceName();
      Service headless = Manifests.all(docs, Service.class).stream()
          .filter(s -> s.getMetadata().getName().equals(name)).findFirst()
          .orElseThrow(() -> new AssertionError("serviceName " + name + " is not a rendered Service"));
      assertThat(headless.getSpec().getClusterIP()).as("clusterIP of %s", name).isEqualTo("None");
      assertThat(headless.getSpec().getPublishNotReadyAddresses()).isTrue();
      assertThat(sts.getSpec().getTemplate().getMetadata().getLabels()).containsAllEntriesOf(headless.getSpec().getSelector());
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("variants")
  void probesAndServicesNameContainerPortsThatExist(String chart, String values) {
    List<Manifests.Doc> docs = render(chart, values);
    for (Workload w : workloads(docs)) {
      List<ContainerPort> ports = new ArrayList<>();
      for (Container c : w.template().getSpec().getContainers()) {
        ports.addAll(c.getPorts());
        for (Probe p : Stream.of(c.getStartupProbe(), c.getReadinessProbe(), c.getLivenessProbe()).filter(Objects::nonNull).toList()) {
          IntOrString port = p.getHttpGet() != null ? p.getHttpGet().getPort() : p.getTcpSocket() != null ? p.getTcpSocket().getPort() : null;
          if (port != null) {
            assertThat(port.getStrVal()).as("probe port of %s (by name)", c.getName()).isNotNull();
            assertThat(c.getPorts()).as("probe port %s of %s", port.getStrVal(), c.getName())
                .anyMatch(cp -> port.getStrVal().equals(cp.getName()));
          }
          assertThat(p.toString()).as("a probe must not depend on etcd or the agent").doesNotContain("2379", "8001", "readyz", "livez");
        }
      }
      assertThat(ports.stream().map(ContainerPort::getName)).doesNotHaveDuplicates().allMatch(n -> n.length() <= 15);
      for (Service s : Manifests.all(docs, Service.class)) {
        s.getSpec().getPorts().forEach(sp -> assertThat(ports).as("targetPort %s of Service %s", sp.getTargetPort(), s.getMetadata().getName())
            .anyMatch(cp -> Objects.equals(sp.getTargetPort().getStrVal(), cp.getName())));
      }
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("variants")
  void rbacSubjectsAreTheChartsServiceAccount(String chart, String values) {
    List<Manifests.Doc> docs = render(chart, values);
    List<Subject> subjects = new ArrayList<>();
    Manifests.all(docs, RoleBinding.class).forEach(b -> subjects.addAll(b.getSubjects()));
    Manifests.all(docs, ClusterRoleBinding.class).forEach(b -> subjects.addAll(b.getSubjects()));
    Set<String> accounts = Set.copyOf(Manifests.all(docs, ServiceAccount.class).stream().map(a -> a.getMetadata().getName()).toList());
    for (Subject s : subjects) {
      assertThat(s.getKind()).isEqualTo("ServiceAccount");
      assertThat(s.getNamespace()).isEqualTo(Charts.NAMESPACE);
      assertThat(accounts).as("rendered ServiceAccounts").contains(s.getName());
    }
    for (Workload w : workloads(docs)) {
      if (!subjects.isEmpty()) {
        assertThat(subjects).extracting(Subject::getName).contains(w.template().getSpec().getServiceAccountName());
      }
    }
    if (Charts.SERVICES.contains(chart)) {
      assertThat(subjects).as("a service chart binds its agent's RBAC").isNotEmpty();
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("variants")
  void everyObjectIsLabelledAndNamedAsADnsLabelAndNoImageIsLatest(String chart, String values) {
    List<Manifests.Doc> docs = render(chart, values);
    for (Manifests.Doc d : docs) {
      assertThat(d.object().getMetadata().getLabels()).as("labels of %s", d).containsKeys(STANDARD_LABELS.toArray(String[]::new));
      assertThat(d.name()).as("name of %s", d).hasSizeLessThanOrEqualTo(63).matches(DNS_LABEL);
      if (!(d.object() instanceof io.fabric8.kubernetes.api.model.rbac.ClusterRole
          || d.object() instanceof ClusterRoleBinding)) {
        assertThat(d.object().getMetadata().getNamespace()).as("namespace of %s", d).isEqualTo(Charts.NAMESPACE);
      }
    }
    for (Workload w : workloads(docs)) {
      for (Container c : w.template().getSpec().getContainers()) {
        assertThat(c.getImage()).as("image of %s", c.getName())
            .isEqualTo("kontrol/" + chart + ":" + Charts.projectVersion())
            .doesNotEndWith(":latest");
      }
    }
  }

  @Test
  void theImageRegistryIsConfigurable() {
    for (String chart : Charts.APPLICATIONS) {
      List<Manifests.Doc> docs = Manifests.load(Charts.template(Charts.chart(chart), null, "1.33.0",
          Map.of("image.registry", "registry.example.com/team", "image.tag", "1.2.3")));
      assertThat(workloads(docs).get(0).template().getSpec().getContainers().get(0).getImage())
          .isEqualTo("registry.example.com/team/kontrol/" + chart + ":1.2.3");
    }
  }

  @Test
  void aPdbAndSoftHostAntiAffinityByDefault() {
    for (String chart : Charts.APPLICATIONS) {
      List<Manifests.Doc> docs = Manifests.load(Charts.template(chart));
      PodDisruptionBudget pdb = Manifests.one(docs, PodDisruptionBudget.class);
      if (chart.equals("etcd")) {
        assertThat(pdb.getSpec().getMinAvailable().getIntVal()).as("etcd keeps a quorum of 3").isEqualTo(2);
      } else {
        assertThat(pdb.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1);
      }
      var anti = workloads(docs).get(0).template().getSpec().getAffinity().getPodAntiAffinity();
      assertThat(anti.getRequiredDuringSchedulingIgnoredDuringExecution()).isEmpty();
      assertThat(anti.getPreferredDuringSchedulingIgnoredDuringExecution()).singleElement()
          .satisfies(t -> assertThat(t.getPodAffinityTerm().getTopologyKey()).isEqualTo("kubernetes.io/hostname"));
    }
  }

  @Test
  void etcdKeepsAQuorumOfFive() {
    List<Manifests.Doc> docs = Manifests.load(Charts.template(Charts.chart("etcd"), null, "1.33.0", Map.of("replicas", "5")));
    assertThat(Manifests.one(docs, PodDisruptionBudget.class).getSpec().getMinAvailable().getIntVal()).isEqualTo(3);
  }
}
