package io.kontrol.agent.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.kontrol.agent.testing.ImdsFixture;
import io.kontrol.agent.testing.KubernetesObjects;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Identity resolution against fabric8's mock Kubernetes server in CRUD mode and a local IMDSv2
 * fixture: both STAND-INS; nothing here reaches a real cluster or the real metadata address.
 */
@Timeout(60)
@EnableKubernetesMockClient(crud = true)
class IdentityResolverTest {

  static KubernetesClient client;

  @TempDir Path dir;

  static final Map<String, String> LABELS = Map.of("app", "nats", "role", "broker");
  static final Map<String, String> ANNOTATIONS = Map.of("kontrol.unity3d.com/master", "nats.default.svc",
      "haproxy.unity3d.com/config", "frontend proxy\n  bind *:80\n");

  @BeforeEach
  void cluster() {
    client.pods().inNamespace("test").delete();
    client.nodes().delete();
    client.nodes().resource(KubernetesObjects.node("node-1", "10.0.0.5", "54.1.2.3",
        Map.of("unity3d.com/array", "data"), Map.of("node.alpha/ttl", "0"))).create();
    client.nodes().resource(KubernetesObjects.node("node-2", "10.0.0.6", null, Map.of(), Map.of())).create();
  }

  static Map<String, String> podEnv(String name) {
    Map<String, String> env = new HashMap<>();
    env.put("HOSTNAME", name);
    env.put("NAMESPACE", "test");
    env.put("KUBERNETES_SERVICE_HOST", "stand-in");
    env.put("AWS_EC2_METADATA_DISABLED", "true");
    return env;
  }

  static IdentityResolver resolver(Map<String, String> env, KubernetesIdentity k8s) {
    return new IdentityResolver(env, () -> Optional.of(k8s), () -> Ec2Identity.fromEnv(env));
  }

  @Test
  void aPodWhoseIpAppearsAfterAFewReadsIsResolvedWithItsNode() throws Exception {
    client.pods().inNamespace("test").resource(
        KubernetesObjects.pod("test", "nats-0", "node-1", null, "10.0.0.5", LABELS, ANNOTATIONS)).create();
    AtomicInteger sleeps = new AtomicInteger();
    KubernetesIdentity k8s = new KubernetesIdentity(client, 9, d -> {
      // the third wait is when the kubelet reports the pod's IP
      if (sleeps.incrementAndGet() == 3) {
        client.pods().inNamespace("test").withName("nats-0")
            .editStatus(p -> { p.getStatus().setPodIP("10.1.2.3"); return p; });
      }
    });

    Identity id = resolver(podEnv("nats-0"), k8s).resolve();

    assertThat(sleeps.get()).isEqualTo(3);
    assertThat(id.get(Identity.ID)).isEqualTo("nats-0");
    assertThat(id.get(Identity.IP)).isEqualTo("10.1.2.3");
    assertThat(id.get(Identity.HOST)).isEqualTo("10.0.0.5");
    assertThat(id.map(Identity.LABELS)).isEqualTo(LABELS);
    assertThat(id.map(Identity.ANNOTATIONS)).isEqualTo(ANNOTATIONS);
    assertThat(id.map(Identity.NODE_LABELS)).containsEntry("unity3d.com/array", "data");
    assertThat(id.map(Identity.NODE_ANNOTATIONS)).containsEntry("node.alpha/ttl", "0");
    assertThat(id.get(Identity.EIP)).isEqualTo("54.1.2.3");
  }

  @Test
  void aPodThatNeverGetsAnIpFailsAfterTheBoundedReads() {
    client.pods().inNamespace("test").resource(
        KubernetesObjects.pod("test", "stuck-0", "node-1", null, null, LABELS, Map.of())).create();
    AtomicInteger sleeps = new AtomicInteger();
    KubernetesIdentity k8s = new KubernetesIdentity(client, 4, d -> sleeps.incrementAndGet());

    assertThatThrownBy(() -> resolver(podEnv("stuck-0"), k8s).resolve())
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("test/stuck-0 has no IP yet after 4 reads");
    assertThat(sleeps.get()).isEqualTo(3);
  }

  @Test
  void anUnknownPodIsAClearError() {
    KubernetesIdentity k8s = new KubernetesIdentity(client, 2, d -> {});
    assertThatThrownBy(() -> resolver(podEnv("ghost"), k8s).resolve())
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("pod test/ghost not found");
  }

  @Test
  void variablesAlreadySetWinAndAFullSetAsksNobody() throws Exception {
    client.pods().inNamespace("test").resource(
        KubernetesObjects.pod("test", "nats-1", "node-1", "10.1.2.4", "10.0.0.5", LABELS, ANNOTATIONS)).create();
    Map<String, String> env = podEnv("nats-1");
    env.put("KONTROL_IP", "192.0.2.9");
    Identity partial = resolver(env, new KubernetesIdentity(client, 1, d -> {})).resolve();
    assertThat(partial.get(Identity.IP)).isEqualTo("192.0.2.9");
    assertThat(partial.get(Identity.ID)).isEqualTo("nats-1");

    Map<String, String> full = new HashMap<>(env);
    full.putAll(partial.toEnv());
    AtomicInteger asked = new AtomicInteger();
    new IdentityResolver(full, () -> { asked.incrementAndGet(); return Optional.empty(); }, Optional::empty).resolve();
    assertThat(asked.get()).isZero();
  }

  @Test
  void debugModeAsksNeitherKubernetesNorEc2() throws Exception {
    Map<String, String> env = podEnv("nats-2");
    env.put("KONTROL_MODE", "slave,debug");
    env.put("KONTROL_IP", "127.0.0.1");
    AtomicInteger asked = new AtomicInteger();
    Identity id = new IdentityResolver(env, () -> { asked.incrementAndGet(); return Optional.empty(); },
        () -> { asked.incrementAndGet(); return Optional.empty(); }).resolve();
    assertThat(asked.get()).isZero();
    assertThat(id.get(Identity.ID)).isEqualTo("nats-2");
    assertThat(id.get(Identity.IP)).isEqualTo("127.0.0.1");
  }

  @Test
  void ec2MetadataGivesTheEipWhenTheNodeHasNone() throws Exception {
    client.pods().inNamespace("test").resource(
        KubernetesObjects.pod("test", "haproxy-0", "node-2", "10.1.2.5", "10.0.0.6", LABELS, Map.of())).create();
    try (ImdsFixture imds = ImdsFixture.serving(Map.of("instance-id", "i-0abc", "placement/availability-zone", "us-east-1a",
        "local-hostname", "ip-10-0-0-6.ec2.internal", "public-ipv4", "3.4.5.6"))) {
      Map<String, String> env = podEnv("haproxy-0");
      env.remove("AWS_EC2_METADATA_DISABLED");
      env.put("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint().toString());

      Identity id = resolver(env, new KubernetesIdentity(client, 1, d -> {})).resolve();

      assertThat(id.get(Identity.EIP)).isEqualTo("3.4.5.6");
      assertThat(id.get(Identity.EC2_INSTANCE_ID)).isEqualTo("i-0abc");
      assertThat(id.get(Identity.EC2_ZONE)).isEqualTo("us-east-1a");
      assertThat(id.get(Identity.EC2_HOSTNAME)).isEqualTo("ip-10-0-0-6.ec2.internal");
      assertThat(imds.tokenRequests()).isPositive();
      assertThat(imds.rejected()).isZero();
    }
  }

  @Test
  void theNodesExternalIpWinsOverEc2AndAnInstanceWithoutPublicIpHasNone() throws Exception {
    client.pods().inNamespace("test").resource(
        KubernetesObjects.pod("test", "nats-3", "node-1", "10.1.2.6", "10.0.0.5", LABELS, Map.of())).create();
    try (ImdsFixture imds = ImdsFixture.serving(Map.of("instance-id", "i-0def", "placement/availability-zone", "us-east-1b",
        "local-hostname", "ip-10-0-0-5.ec2.internal"))) {
      Map<String, String> env = podEnv("nats-3");
      env.remove("AWS_EC2_METADATA_DISABLED");
      env.put("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint().toString());
      Identity id = resolver(env, new KubernetesIdentity(client, 1, d -> {})).resolve();
      assertThat(id.get(Identity.EIP)).isEqualTo("54.1.2.3");
      assertThat(id.get(Identity.EC2_INSTANCE_ID)).isEqualTo("i-0def");
    }
    Map<String, String> off = podEnv("nats-3");
    off.put("KONTROL_MODE", "debug");
    off.put("AWS_EC2_METADATA_DISABLED", "false");
    off.put("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1");
    try (ImdsFixture imds = ImdsFixture.serving(Map.of())) {
      off.put("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint().toString());
      Identity id = Ec2Identity.fromEnv(off).orElseThrow().resolve(Identity.fromEnv(Map.of()));
      assertThat(id.has(Identity.EIP)).isFalse();
    }
  }

  @Test
  void aMetadataServiceThatNeverAnswersDelaysByAFewSecondsAtMost() throws Exception {
    try (ImdsFixture silent = ImdsFixture.silent()) {
      Map<String, String> env = Map.of("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent.endpoint().toString(),
          "KONTROL_ID", "x", "KONTROL_IP", "10.0.0.1");
      long t0 = System.nanoTime();
      Identity id = new IdentityResolver(env, Optional::empty, () -> Ec2Identity.fromEnv(env)).resolve();
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(ms).isLessThan(5_000);
      assertThat(id.toEnv()).containsOnlyKeys(Identity.ID, Identity.IP);
    }
  }

  @Test
  void metadataDisabledIsNeverAsked() {
    assertThat(Ec2Identity.fromEnv(Map.of("AWS_EC2_METADATA_DISABLED", "true",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1"))).isEmpty();
  }

  @Test
  void theAwsAndKubernetesVariablesAreReadAsTheirOwnersDefineThem() {
    // the AWS SDKs' rule: only "true" (any case, blanks around) disables the metadata service
    assertThat(Ec2Identity.fromEnv(Map.of("AWS_EC2_METADATA_DISABLED", " TRUE ",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1"))).isEmpty();
    assertThat(Ec2Identity.fromEnv(Map.of("AWS_EC2_METADATA_DISABLED", "yes",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT", " http://127.0.0.1:1 "))).isPresent();
    // blank counts as unset, as for every variable kontrol reads
    assertThat(KubernetesIdentity.namespace(Map.of("NAMESPACE", "  "))).isEqualTo("default");
    assertThat(KubernetesIdentity.namespace(Map.of("NAMESPACE", " prod "))).isEqualTo("prod");
    assertThat(KubernetesIdentity.inCluster(Map.of("KUBERNETES_SERVICE_HOST", " "))).isFalse();
    assertThatThrownBy(() -> KubernetesIdentity.podName(Map.of("HOSTNAME", "")))
        .isInstanceOf(IdentityException.class).hasMessage("HOSTNAME is not set: cannot tell which pod this is");
    assertThat(IdentityResolver.debug(Map.of("KONTROL_MODE", "master, Debug"))).isTrue();
  }

  @Test
  void aMalformedJsonVariableIsAClearError() {
    Map<String, String> env = Map.of("KONTROL_LABELS", "app=nats", "KONTROL_MODE", "debug");
    assertThatThrownBy(() -> new IdentityResolver(env, Optional::empty, Optional::empty).resolve())
        .isInstanceOf(IdentityException.class).hasMessageContaining("KONTROL_LABELS is not a JSON object");
  }

  @Test
  void anAnnotationChangeIsSeenLiveByTheListener() throws Exception {
    client.pods().inNamespace("test").resource(
        KubernetesObjects.pod("test", "haproxy-1", "node-1", "10.1.2.7", "10.0.0.5", LABELS, ANNOTATIONS)).create();
    List<Map<String, String>> seen = new CopyOnWriteArrayList<>();
    try (PodWatch watch = PodWatch.start(client, "test", "haproxy-1", seen::add)) {
      await().atMost(Duration.ofSeconds(20)).until(() -> !seen.isEmpty());
      assertThat(seen.get(0)).isEqualTo(ANNOTATIONS);

      client.pods().inNamespace("test").withName("haproxy-1").edit(p -> {
        p.getMetadata().getAnnotations().put("haproxy.unity3d.com/config", "frontend v2\n");
        return p;
      });

      await().atMost(Duration.ofSeconds(20)).until(() -> seen.size() == 2);
      assertThat(seen.get(1)).containsEntry("haproxy.unity3d.com/config", "frontend v2\n");
    }
  }

  @Test
  void theAnnotationsFileIsWorldReadableAndLeavesNoTempFile() throws Exception {
    Path file = dir.resolve("annotations.json");
    Annotations.write(file, ANNOTATIONS);
    assertThat(Annotations.current(Map.of(Annotations.FILE_VARIABLE, file.toString(), "KONTROL_ANNOTATIONS", "{}")))
        .isEqualTo(ANNOTATIONS);
    // boot writes it as root; the lifecycle's `kontrol render` reads it as the service's user
    assertThat(java.nio.file.Files.getPosixFilePermissions(file))
        .contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ);
    try (var files = Files.list(dir)) {
      assertThat(files).as("no temp file left behind").containsExactly(file);
    }
  }

  @Test
  void annotationsFallBackToTheVariableUntilTheFileExists() {
    Map<String, String> env = Map.of(Annotations.FILE_VARIABLE, dir.resolve("absent.json").toString(),
        "KONTROL_ANNOTATIONS", "{\"a\":\"1\"}");
    assertThat(Annotations.current(env)).isEqualTo(Map.of("a", "1"));
    assertThat(Annotations.current(Map.of())).isEmpty();
  }

  @Test
  void exportsAreQuotedForTheShell() throws Exception {
    Identity id = Identity.fromEnv(Map.of("KONTROL_ID", "it's-0", "KONTROL_LABELS", "{\"app\":\"a b $c\"}"));
    Process sh = new ProcessBuilder("/bin/sh", "-c", "eval \"$(cat)\"; printf '%s|%s' \"$KONTROL_ID\" \"$KONTROL_LABELS\"")
        .start();
    sh.getOutputStream().write(id.toExports().getBytes());
    sh.getOutputStream().close();
    assertThat(new String(sh.getInputStream().readAllBytes())).isEqualTo("it's-0|{\"app\":\"a b $c\"}");
  }

  @Test
  void aMetadataServiceThatAnswersUnusablyIsReportedOnceWithTheReason() throws Exception {
    ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(Ec2Identity.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> seen = new ch.qos.logback.core.read.ListAppender<>();
    seen.start();
    log.addAppender(seen);
    try (ImdsFixture imds = ImdsFixture.serving(Map.of("placement/availability-zone", "us-east-1a"))) {
      // a budget a loaded machine cannot exhaust: this is about the answer, not the time
      Identity id = new Ec2Identity(imds.endpoint(), java.time.Duration.ofSeconds(30)).resolve(Identity.fromEnv(Map.of()));
      assertThat(id.has(Identity.EC2_INSTANCE_ID)).isFalse();
      assertThat(seen.list)
          .filteredOn(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN)
          .singleElement()
          .satisfies(e -> assertThat(e.getFormattedMessage())
              .contains("answered but cannot be used", "GET /latest/meta-data/instance-id answered HTTP 404", "no EC2 fields"));
    } finally {
      log.detachAppender(seen);
    }
  }
}
