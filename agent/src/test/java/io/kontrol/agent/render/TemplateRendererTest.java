package io.kontrol.agent.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(60)
class TemplateRendererTest {

  @TempDir Path scratch;

  private static Map<String, Object> hosts() {
    // insertion order matters: Jinja2 iterates a dict in insertion order, so must we
    Map<String, Object> hosts = new LinkedHashMap<>();
    hosts.put("web", List.of("10.0.0.7", "10.0.0.3", "10.0.0.12"));
    hosts.put("api", List.of("10.0.1.1"));
    hosts.put("empty", List.of());
    return Map.of("hosts", hosts);
  }

  private static String resource(String name) throws Exception {
    return Files.readString(Path.of("src/test/resources/render", name), StandardCharsets.UTF_8);
  }

  @ParameterizedTest
  @ValueSource(strings = {"seed-haproxy-http.j2", "seed-haproxy-tcp.j2", "jinja2-features.j2"})
  void rendersTheSeedTemplatesExactlyAsPythonJinja2Does(String name) throws Exception {
    String template = resource(name);
    Map<String, Object> variables = new LinkedHashMap<>(hosts());
    variables.put("peers", List.of("172.18.0.5", "172.18.0.3", "172.18.0.4"));
    variables.put("group", "nats");

    String ours = TemplateRenderer.strict().render(template, variables);
    String reference = Jinja2Reference.render(template, variables, scratch);

    assertThat(ours).isEqualTo(reference);
  }

  @Test
  void theNatsImageTemplateRendersAsPythonJinja2Does() throws Exception {
    String template =
        Files.readString(Path.of("../images/nats/nats.conf.j2"), StandardCharsets.UTF_8);
    for (List<String> peers :
        List.of(List.of("172.18.0.2"), List.of("172.18.0.4", "172.18.0.2", "172.18.0.3"))) {
      // as images/nats/configure gives them when the group has no configuration of its own
      Map<String, Object> variables = Map.of("group", "nats", "ip", "172.18.0.2", "peers", peers,
          "name", "", "routes", List.of(), "leafnodes", List.of());
      String ours = TemplateRenderer.strict().render(template, variables);
      assertThat(ours).isEqualTo(Jinja2Reference.render(template, variables, scratch));
      assertThat(ours).contains("name: \"nats\"\n").doesNotContain("172.18.0.2:4244");
      for (String peer : peers) {
        if (!peer.equals("172.18.0.2")) {
          assertThat(ours).contains("nats-route://" + peer + ":4244");
        }
      }
    }
  }

  @Test
  void theNatsImageTemplateLeavesOutExtraRoutesThatNameABrokerOfTheGroup() throws Exception {
    String template =
        Files.readString(Path.of("../images/nats/nats.conf.j2"), StandardCharsets.UTF_8);
    // the seed's payload lists every broker of the group, then one outside
    Map<String, Object> variables = Map.of("group", "nats", "ip", "172.18.0.2",
        "peers", List.of("172.18.0.2", "172.18.0.3", "172.18.0.4"), "name", "CLUSTER_A",
        "routes", List.of("nats://172.18.0.2:4244", "nats-route://172.18.0.3:4244", "nats://172.18.0.4:4244",
            "nats://another-route:6222", "nats://172.18.0.3:6222"),
        "leafnodes", List.of());
    String ours = TemplateRenderer.strict().render(template, variables);
    assertThat(ours).isEqualTo(Jinja2Reference.render(template, variables, scratch));
    assertThat(ours)
        .contains("name: \"CLUSTER_A\"")
        .contains("nats-route://172.18.0.3:4244\n", "nats-route://172.18.0.4:4244\n")
        .contains("\"nats://another-route:6222\"", "\"nats://172.18.0.3:6222\"")
        .doesNotContain("172.18.0.2:4244", "\"nats-route://172.18.0.3:4244\"", "\"nats://172.18.0.4:4244\"");
  }

  @Test
  void theSeedHttpTemplateListsEveryHostWithItsLoopIndex() throws Exception {
    String out = TemplateRenderer.strict().render(resource("seed-haproxy-http.j2"), hosts());
    assertThat(out)
        .contains("default-server      inter 5s fall 1 rise 1\n  server web-1 10.0.0.7:80 check")
        .contains("server web-3 10.0.0.12:80")
        .contains("server api-1 10.0.1.1:80")
        .doesNotContain("empty-");
  }

  @Test
  void aSyntaxErrorFailsWithItsLine() {
    String template = "global\n  maxconn 10\n{% for ip in peers %}\n  server {{ ip }}\n";
    assertThatThrownBy(() -> TemplateRenderer.strict().render(template, Map.of("peers", List.of("a"))))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("line 3")
        .satisfies(e -> assertThat(((RenderException) e).line()).isEqualTo(3));
  }

  @Test
  void anUnknownFilterFails() {
    assertThatThrownBy(
            () -> TemplateRenderer.strict().render("a\n{{ peers | frobnicate }}\n", Map.of("peers", "x")))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("frobnicate")
        .hasMessageContaining("line 2");
  }

  @Test
  void anUnknownFilterFailsEvenInABranchThatDoesNotRunButAPipeInAStringIsNoFilter()
      throws Exception {
    assertThatThrownBy(
            () -> TemplateRenderer.strict().render("{% if false %}{{ 1 | nope }}{% endif %}", Map.of()))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("no filter named 'nope'");
    assertThat(TemplateRenderer.strict().render("{{ 'a | b' | upper }}", Map.of())).isEqualTo("A | B");
  }

  @Test
  void anUnknownTagFails() {
    assertThatThrownBy(() -> TemplateRenderer.strict().render("{% frob %}\n", Map.of()))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("frob");
  }

  @Test
  void anUndefinedVariableFailsInStrictModeAndIsEmptyInLenientMode() throws Exception {
    String template = "listen: {{ port }}\nname: {{ group }}\n";
    assertThatThrownBy(() -> TemplateRenderer.strict().render(template, Map.of("group", "g")))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("port");
    assertThat(TemplateRenderer.lenient().render(template, Map.of("group", "g")))
        .isEqualTo("listen: \nname: g\n");
  }
}
