package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.kontrol.agent.identity.Identity;
import io.kontrol.agent.identity.IdentityResolver;
import io.kontrol.agent.identity.KubernetesIdentity;
import io.kontrol.agent.annotations.LiveAnnotations;
import io.kontrol.agent.identity.PodInfo;
import io.kontrol.agent.rpc.LastInputs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The agent against the chart: on a STAND-IN API server (fabric8's mock, CRUD mode) that enforces
 * the chart's rendered Role and ClusterRole, a pod made from the rendered pod template, with the
 * environment the rendered container would get, is resolved by the agent's own identity code
 * ({@link IdentityResolver}, {@link KubernetesIdentity}, as {@code kontrol boot} does), and its
 * annotations are followed from the Downward API volume the chart mounts ({@link LiveAnnotations},
 * as {@code kontrol run} does), with a change of the pod's annotations reaching the agent. Every API
 * call the agent makes must be allowed by a rendered rule, and every rendered rule must be used.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class AgentRbacTest {

  private static final String AGENT = "kontrol-agent-under-test";
  private static final String NODE = "node-a";
  private static final Pattern POD = Pattern.compile("/api/v1/namespaces/([^/]+)/pods(/([^/?]+))?(\\?.*)?");
  private static final Pattern NODES = Pattern.compile("/api/v1/nodes/([^/?]+)(\\?.*)?");

  /** An API call as RBAC sees it. */
  record Call(String verb, String resource, String namespace) {}

  static Stream<Arguments> variants() {
    return Charts.SERVICES.stream().flatMap(chart -> Charts.ciValues(chart).stream()
        .map(values -> Arguments.of(chart, values.getFileName().toString())));
  }

  /** What a request is, in RBAC's terms; discovery is not a resource (every user may read it). */
  static Optional<Call> call(RecordedRequest r) {
    String path = r.getPath();
    if (path.matches("/api(/v1)?(\\?.*)?")) {
      return Optional.empty();
    }
    Matcher pod = POD.matcher(path);
    if (pod.matches() && r.getMethod().equals("GET")) {
      String query = pod.group(4) == null ? "" : pod.group(4);
      String verb = pod.group(3) != null ? "get" : query.contains("watch=true") ? "watch" : "list";
      return Optional.of(new Call(verb, "pods", pod.group(1)));
    }
    Matcher node = NODES.matcher(path);
    if (node.matches() && r.getMethod().equals("GET")) {
      return Optional.of(new Call("get", "nodes", null));
    }
    throw new AssertionError("an API call the test does not know how to authorise: " + r.getMethod() + " " + path);
  }

  private static Set<Call> granted(Role role, ClusterRole clusterRole) {
    Set<Call> granted = new LinkedHashSet<>();
    if (role != null) {
      for (PolicyRule rule : role.getRules()) {
        assertThat(rule.getApiGroups()).containsExactly("");
        rule.getResources().forEach(res -> rule.getVerbs().forEach(v -> granted.add(new Call(v, res, role.getMetadata().getNamespace()))));
      }
    }
    if (clusterRole != null) {
      for (PolicyRule rule : clusterRole.getRules()) {
        assertThat(rule.getApiGroups()).containsExactly("");
        rule.getResources().forEach(res -> rule.getVerbs().forEach(v -> granted.add(new Call(v, res, null))));
      }
    }
    return granted;
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("variants")
  void everyCallOfTheAgentIsAllowedAndEveryRuleIsUsed(String chart, String values) throws Exception {
    Path file = Charts.chart(chart).resolve("ci").resolve(values);
    List<Manifests.Doc> docs = Manifests.load(Charts.template(chart, file, "1.33.0"));
    PodTemplateSpec template = docs.stream().map(Manifests.Doc::object)
        .map(o -> o instanceof StatefulSet s ? s.getSpec().getTemplate() : o instanceof Deployment d ? d.getSpec().getTemplate()
            : o instanceof io.fabric8.kubernetes.api.model.apps.DaemonSet ds ? ds.getSpec().getTemplate() : null)
        .filter(java.util.Objects::nonNull).findFirst().orElseThrow();
    String workload = docs.stream().filter(d -> d.kind().matches("StatefulSet|Deployment|DaemonSet")).findFirst().orElseThrow().name();
    Role role = Manifests.all(docs, Role.class).stream().findFirst().orElse(null);
    ClusterRole clusterRole = Manifests.all(docs, ClusterRole.class).stream().findFirst().orElse(null);
    bound(docs, role, clusterRole, template.getSpec().getServiceAccountName());
    Set<Call> granted = granted(role, clusterRole);

    // the rendered RBAC, enforced for the agent's client; the test's own client may do anything
    try (ApiServer api = new ApiServer(r -> !AGENT.equals(r.getHeader("User-Agent")) || call(r).map(granted::contains).orElse(true));
        KubernetesClient admin = api.client("test-setup");
        KubernetesClient agent = api.client(AGENT)) {
      admin.nodes().resource(new NodeBuilder().withNewMetadata().withName(NODE)
          .addToLabels("topology.kubernetes.io/zone", "zone-a").endMetadata()
          .withNewStatus().addNewAddress().withType("ExternalIP").withAddress("203.0.113.7").endAddress().endStatus()
          .build()).create();
      String podName = workload + (template.getMetadata().getLabels().containsKey("app") ? "-0" : "");
      Pod pod = admin.pods().inNamespace(Charts.NAMESPACE).resource(new PodBuilder()
          .withMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder(template.getMetadata())
              .withName(podName).withNamespace(Charts.NAMESPACE).build())
          .withSpec(new io.fabric8.kubernetes.api.model.PodSpecBuilder(template.getSpec()).withNodeName(NODE).build())
          .withNewStatus().withPodIP("10.1.2.3").withHostIP("10.0.0.1").endStatus()
          .build()).create();

      // the Downward API volume the chart mounts at /etc/podinfo, here in a directory of the test
      Path podinfo = Files.createDirectories(Charts.tree().resolve("podinfo-" + chart + "-" + values));
      writePodInfo(podinfo, pod);
      Map<String, String> env = new HashMap<>(containerEnv(pod, template.getSpec().getContainers().get(0)));
      env.put(PodInfo.VARIABLE, podinfo.toString());
      env.put("KONTROL_ANNOTATIONS_FILE", podinfo.resolveSibling(podinfo.getFileName() + ".json").toString());

      // kontrol boot: the identity, annotations from the Downward API file
      Map<String, String> boot = PodInfo.environment(env);
      Identity id = new IdentityResolver(boot, () -> Optional.of(new KubernetesIdentity(agent, 1, d -> { })), Optional::empty).resolve();

      assertThat(id.get(Identity.ID)).isEqualTo(podName);
      assertThat(id.get(Identity.IP)).isEqualTo("10.1.2.3");
      assertThat(id.get(Identity.HOST)).isEqualTo("10.0.0.1");
      assertThat(id.map(Identity.LABELS)).containsEntry("app", template.getMetadata().getLabels().get("app"))
          .containsEntry("role", template.getMetadata().getLabels().get("role"));
      Map<String, String> annotations = template.getMetadata().getAnnotations() == null ? Map.of() : template.getMetadata().getAnnotations();
      assertThat(id.map(Identity.ANNOTATIONS)).isEqualTo(annotations);
      if (clusterRole != null) {
        assertThat(id.map(Identity.NODE_LABELS)).containsEntry("topology.kubernetes.io/zone", "zone-a");
        assertThat(id.get(Identity.EIP)).isEqualTo("203.0.113.7");
      } else {
        assertThat(id.has(Identity.NODE_LABELS)).as("no ClusterRole: the node is not readable").isFalse();
      }

      // kontrol run: the live annotations follow the Downward API file (kubectl annotate, a new
      // template); given the API too, the agent must not need it
      try (LiveAnnotations live = LiveAnnotations.start(env, podName, podinfo.resolve("no-automaton.sock"), new LastInputs(), agent)) {
        assertThat(live.current()).isEqualTo(annotations);
        Pod annotated = admin.pods().inNamespace(Charts.NAMESPACE).withName(podName)
            .edit(p -> new PodBuilder(p).editMetadata().addToAnnotations("kontrol.unity3d.com/opentsdb", "tsdb.example").endMetadata().build());
        writePodInfo(podinfo, annotated); // what the kubelet does
        await().atMost(Duration.ofSeconds(30)).until(() -> "tsdb.example".equals(live.current().get("kontrol.unity3d.com/opentsdb")));
      }

      Set<Call> made = new LinkedHashSet<>();
      List<RecordedRequest> refused = new java.util.ArrayList<>();
      for (RecordedRequest r : api.requests()) {
        if (AGENT.equals(r.getHeader("User-Agent"))) {
          call(r).ifPresent(c -> {
            made.add(c);
            if (!granted.contains(c)) {
              refused.add(r);
            }
          });
        }
      }
      Set<Call> refusedCalls = new LinkedHashSet<>(refused.stream().map(r -> call(r).orElseThrow()).toList());
      if (clusterRole != null) {
        assertThat(refusedCalls).as("agent calls the rendered RBAC does not allow").isEmpty();
      } else {
        assertThat(refusedCalls).as("without cluster resources only the node is out of reach")
            .containsExactly(new Call("get", "nodes", null));
      }
      Set<Call> unused = new LinkedHashSet<>(granted);
      unused.removeAll(made);
      assertThat(unused).as("rendered rules the agent never uses").isEmpty();
    }
  }

  /** The bindings tie the rendered roles to the pods' ServiceAccount. */
  private static void bound(List<Manifests.Doc> docs, Role role, ClusterRole clusterRole, String account) {
    assertThat(role).as("a Role").isNotNull();
    RoleBinding rb = Manifests.one(docs, RoleBinding.class);
    assertThat(rb.getRoleRef().getKind()).isEqualTo("Role");
    assertThat(rb.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
    assertThat(rb.getSubjects()).extracting(s -> s.getName()).containsExactly(account);
    if (clusterRole != null) {
      ClusterRoleBinding crb = Manifests.one(docs, ClusterRoleBinding.class);
      assertThat(crb.getRoleRef().getKind()).isEqualTo("ClusterRole");
      assertThat(crb.getRoleRef().getName()).isEqualTo(clusterRole.getMetadata().getName());
      assertThat(crb.getSubjects()).extracting(s -> s.getName()).containsExactly(account);
    } else {
      assertThat(Manifests.all(docs, ClusterRoleBinding.class)).isEmpty();
    }
  }

  /**
   * The Downward API volume's files as the kubelet writes them: {@code key="value"} lines, keys
   * sorted, values quoted as Go's strconv.Quote does, no newline after the last line.
   */
  private static void writePodInfo(Path dir, Pod pod) throws java.io.IOException {
    for (Map.Entry<String, Map<String, String>> f : Map.of("labels", pod.getMetadata().getLabels(),
        "annotations", pod.getMetadata().getAnnotations() == null ? Map.<String, String>of() : pod.getMetadata().getAnnotations()).entrySet()) {
      StringBuilder sb = new StringBuilder();
      new java.util.TreeMap<>(f.getValue()).forEach((k, v) -> sb.append(sb.length() == 0 ? "" : "\n").append(k).append('=').append(goQuote(v)));
      Path tmp = dir.resolve(f.getKey() + ".tmp");
      Files.writeString(tmp, sb.toString(), StandardCharsets.UTF_8);
      Files.move(tmp, dir.resolve(f.getKey()), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
  }

  private static String goQuote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        case '\r' -> sb.append("\\r");
        default -> {
          if (c < 0x20 || c == 0x7f) {
            sb.append(String.format("\\x%02x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  /** The container's environment as the kubelet would give it: values, Downward API fields, HOSTNAME. */
  private static Map<String, String> containerEnv(Pod pod, Container container) {
    Map<String, String> env = new HashMap<>();
    env.put("HOSTNAME", pod.getMetadata().getName());
    env.put("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    for (EnvVar e : container.getEnv()) {
      if (e.getValue() != null) {
        env.put(e.getName(), e.getValue());
      } else if (e.getValueFrom() != null && e.getValueFrom().getFieldRef() != null) {
        String field = e.getValueFrom().getFieldRef().getFieldPath();
        env.put(e.getName(), switch (field) {
          case "metadata.namespace" -> pod.getMetadata().getNamespace();
          case "metadata.name" -> pod.getMetadata().getName();
          case "status.podIP" -> pod.getStatus().getPodIP();
          case "status.hostIP" -> pod.getStatus().getHostIP();
          case "spec.nodeName" -> pod.getSpec().getNodeName();
          default -> throw new AssertionError("a Downward API field the test does not know: " + field);
        });
      }
    }
    assertThat(env).containsEntry("NAMESPACE", Charts.NAMESPACE).containsEntry("KONTROL_PODINFO", "/etc/podinfo")
        .containsKeys("KONTROL_ETCD", "KONTROL_TOKEN_FILE", "KONTROL_HTTP_PORT");
    return env;
  }
}
