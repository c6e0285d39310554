package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.kontrol.agent.cli.KontrolCommand;
import io.kontrol.service.kafka.KafkaOverrides;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What the charts hand the services is accepted by the services themselves: the configuration
 * template a pod would render (the chart's annotation, else the image's own template), rendered by
 * {@code kontrol render} as the lifecycle's {@code configure} does, checked by the real
 * {@code haproxy -c} and {@code nats-server -t}; the Kafka overrides pass the Kafka image's own
 * parser ({@link KafkaOverrides}) whole.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ServiceConfigTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path IMAGES = Path.of(System.getProperty("kontrol.images", "../images"));
  private static final Map<String, List<String>> SAMPLE_HOSTS = Map.of(
      "api", List.of("10.1.0.11", "10.1.0.12"), "zookeeper", List.of("10.1.0.21"));

  static Stream<Arguments> variants(String chart) {
    return Charts.ciValues(chart).stream().map(v -> Arguments.of(v.getFileName().toString()));
  }

  static Stream<Arguments> haproxyVariants() {
    return variants("haproxy");
  }

  static Stream<Arguments> natsVariants() {
    return variants("nats");
  }

  static Stream<Arguments> kafkaVariants() {
    return variants("kafka");
  }

  private static PodTemplateSpec pod(String chart, String values) {
    return Manifests.load(Charts.template(chart, Charts.chart(chart).resolve("ci").resolve(values), "1.33.0")).stream()
        .map(Manifests.Doc::object)
        .map(o -> o instanceof StatefulSet s ? s.getSpec().getTemplate() : o instanceof Deployment d ? d.getSpec().getTemplate()
            : o instanceof DaemonSet ds ? ds.getSpec().getTemplate() : null)
        .filter(Objects::nonNull).findFirst().orElseThrow();
  }

  /** {@code kontrol render} as the pod's configure state runs it; returns the rendered file. */
  private static String render(PodTemplateSpec pod, String annotation, Path imageTemplate, Object vars, String check,
      Path out) throws Exception {
    Map<String, String> annotations = pod.getMetadata().getAnnotations() == null ? Map.of() : pod.getMetadata().getAnnotations();
    Map<String, String> env = Map.of("KONTROL_ANNOTATIONS", JSON.writeValueAsString(annotations), "PATH", System.getenv("PATH"),
        "KONTROL_PODINFO", out.resolveSibling("no-podinfo").toString());
    StringWriter err = new StringWriter();
    int code = KontrolCommand.commandLine(new KontrolCommand(env)).setErr(new PrintWriter(err)).execute("render",
        "--annotation", annotation, "--template", imageTemplate.toString(), "--vars", JSON.writeValueAsString(vars),
        "--check", check, "--output", out.toString());
    assertThat(code).as("kontrol render exit code; stderr: %s", err).isZero();
    return Files.readString(out);
  }

  @ParameterizedTest
  @MethodSource("haproxyVariants")
  void theHaproxyTemplateRendersToAConfigHaproxyAccepts(String values) throws Exception {
    PodTemplateSpec pod = pod("haproxy", values);
    String annotation = "haproxy.unity3d.com/config";
    Path imageTemplate = IMAGES.resolve("haproxy/haproxy.cfg.j2");
    Path out = Files.createDirectories(Charts.tree().resolve("rendered")).resolve("haproxy-" + values + ".cfg");
    // checked as the image runs it: the operator's file, then the image's own (its health frontend)
    Path imageOwn = IMAGES.resolve("haproxy/kontrol.cfg").toAbsolutePath();
    String cfg = render(pod, annotation, imageTemplate, Map.of("hosts", SAMPLE_HOSTS), "haproxy -c -q -f {} -f " + imageOwn, out);
    assertThat(cfg).contains("10.1.0.11", "10.1.0.12", "10.1.0.21");
    // every frontend the template binds is a port of the pod
    List<Integer> ports = pod.getSpec().getContainers().get(0).getPorts().stream().map(ContainerPort::getContainerPort).toList();
    cfg.lines().map(String::strip).filter(l -> l.startsWith("bind ")).forEach(bind -> {
      int port = Integer.parseInt(bind.replaceFirst("bind\\s+\\S*:(\\d+).*", "$1"));
      assertThat(ports).as("%s: the pod's ports", bind).contains(port);
    });
  }

  @ParameterizedTest
  @MethodSource("natsVariants")
  void theNatsTemplateRendersToAConfigNatsServerAcceptsOnTheChartsPorts(String values) throws Exception {
    PodTemplateSpec pod = pod("nats", values);
    Path out = Files.createDirectories(Charts.tree().resolve("rendered")).resolve("nats-" + values + ".conf");
    String app = pod.getMetadata().getLabels().get("app");
    String conf = render(pod, "nats.unity3d.com/config", IMAGES.resolve("nats/nats.conf.j2"),
        Map.of("group", app, "ip", "10.1.0.1", "peers", List.of("10.1.0.1", "10.1.0.2", "10.1.0.3"),
            "name", "", "routes", List.of(), "leafnodes", List.of()), // configure's defaults
        "nats-server -t -c {}", out);
    assertThat(conf).contains("nats-route://10.1.0.2:4244", "nats-route://10.1.0.3:4244").doesNotContain("10.1.0.1:4244");
    Map<String, Integer> ports = new java.util.HashMap<>();
    pod.getSpec().getContainers().get(0).getPorts().forEach(p -> ports.put(p.getName(), p.getContainerPort()));
    assertThat(conf).contains("listen: 0.0.0.0:" + ports.get("client"), "http: 0.0.0.0:" + ports.get("monitor"),
        "listen: 0.0.0.0:" + ports.get("cluster"));
  }

  @ParameterizedTest
  @MethodSource("kafkaVariants")
  void theKafkaOverridesAnnotationIsAcceptedWholeByTheKafkaImagesConfigCode(String values) throws Exception {
    PodTemplateSpec pod = pod("kafka", values);
    String annotation = pod.getMetadata().getAnnotations().get(KafkaOverrides.ANNOTATION);
    Map<?, ?> given = new ObjectMapper(new YAMLFactory())
        .readValue(Charts.chart("kafka").resolve("ci").resolve(values).toFile(), Map.class);
    Map<?, ?> overrides = given.get("overrides") instanceof Map<?, ?> m ? m : Map.of();
    KafkaOverrides parsed = KafkaOverrides.parse(annotation);
    assertThat(parsed.errors()).as("annotation:%n%s", annotation).isEmpty();
    // every value the operator gave arrives, under its broker-level name (retention.ms -> log.retention.ms)
    assertThat(parsed.values()).hasSize(overrides.size());
    overrides.forEach((k, v) -> assertThat(parsed.values())
        .containsEntry(KafkaOverrides.TOPIC_SYNONYMS.getOrDefault(k.toString(), k.toString()), v.toString()));
  }

  /** The ports an image serves ({@code EXPOSE} in its Dockerfile) are all declared by its chart's pod. */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"nats", "haproxy", "kafka"})
  void everyPortTheImageServesIsAContainerPortOfItsChart(String chart) throws Exception {
    List<Integer> exposed = Files.readAllLines(IMAGES.resolve(chart).resolve("Dockerfile")).stream()
        .filter(l -> l.startsWith("EXPOSE ")).flatMap(l -> Stream.of(l.substring(7).trim().split("\\s+")))
        .map(Integer::parseInt).toList();
    assertThat(exposed).as("%s/Dockerfile EXPOSE", chart).isNotEmpty();
    List<Integer> declared = pod(chart, "default-values.yaml").getSpec().getContainers().get(0).getPorts().stream()
        .map(ContainerPort::getContainerPort).toList();
    assertThat(declared).as("container ports of the %s chart", chart).containsAll(exposed);
  }

  @Test
  void theKafkaSchemaRefusesExactlyTheKeysTheImageRefuses() throws Exception {
    var schema = JSON.readTree(Charts.chart("kafka").resolve("values.schema.json").toFile());
    TreeSet<String> refused = new TreeSet<>();
    schema.at("/properties/overrides/propertyNames/not/enum").forEach(n -> refused.add(n.asText()));
    assertThat(refused).isEqualTo(new TreeSet<>(KafkaOverrides.MANAGED));
  }
}
