package io.kontrol.service.haproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.agent.render.Jinja2Reference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The seed's two annotation templates (the original README's, unchanged) and the image's default
 * template: rendered as Python's Jinja2 renders them, ending with a newline even when the
 * annotation does not, and accepted by HAProxy 2.6 ({@code haproxy -c}) together with the image's
 * own file, for no hosts and for several apps.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class TemplatesTest {

  @TempDir Path scratch;

  private static final Path IMAGE = Path.of("../images/haproxy");

  private static String template(String name) throws Exception {
    Path path = name.startsWith("image:") ? IMAGE.resolve(name.substring(6)) : Path.of("src/test/resources/render", name);
    return Files.readString(path, StandardCharsets.UTF_8);
  }

  private static final List<Map<String, List<String>>> HOSTS =
      List.of(
          Map.of(),
          Map.of("web", List.of("10.0.0.7")),
          Map.of("web", List.of("10.0.0.12", "10.0.0.7", "10.0.0.9"), "api", List.of("10.0.1.1")));

  @ParameterizedTest
  @ValueSource(strings = {"seed-haproxy-http.j2", "seed-haproxy-tcp.j2", "image:haproxy.cfg.j2"})
  void rendersAsJinja2AndHaproxyAcceptsIt(String name) throws Exception {
    for (Map<String, List<String>> raw : HOSTS) {
      Map<String, List<String>> hosts = Hosts.canonical(raw);
      // as an annotation written without its last newline
      String template = template(name).stripTrailing();

      String ours = Configurator.render(template, hosts, Map.of());

      Map<String, Object> variables = new LinkedHashMap<>();
      variables.put("hosts", hosts);
      variables.put("env", Map.of());
      assertThat(ours).isEqualTo(Jinja2Reference.render(template, variables, scratch) + "\n");
      assertThat(ours).endsWith("\n").doesNotEndWith("\n\n");
      for (List<String> ips : hosts.values()) {
        for (String ip : ips) {
          assertThat(ours).as(name + " for " + hosts).contains(" " + ip + ":");
        }
      }
      assertThat(check(ours)).as(name + " for " + hosts).isEqualTo("ok");
    }
  }

  @Test
  void theDefaultTemplateKeepsItsSlotsSoMembershipChangesNeedNoReload() throws Exception {
    String template = template("image:haproxy.cfg.j2");
    String one = Configurator.render(template, Hosts.canonical(Map.of("web", List.of("10.0.0.7"))), Map.of());
    String three = Configurator.render(template, Hosts.canonical(Map.of("web", List.of("10.0.0.9", "10.0.0.7", "10.0.0.8"))), Map.of());

    assertThat(ServerChanges.between(one, three)).hasValueSatisfying(changes -> assertThat(changes).hasSize(2));
    // more pods than slots: an extra server, so a reload
    List<String> many = new java.util.ArrayList<>();
    for (int i = 1; i <= 17; i++) {
      many.add("10.0.2." + i);
    }
    String full = Configurator.render(template, Hosts.canonical(Map.of("web", many)), Map.of());
    assertThat(full).contains("server web-17 10.0.2.17:80 check");
    assertThat(ServerChanges.between(one, full)).isEmpty();
  }

  /** {@code haproxy -c} of the operator file followed by the image's, as the pod loads them. */
  private String check(String config) throws Exception {
    Path file = Files.writeString(Files.createTempFile(scratch, "haproxy", ".cfg"), config);
    Process p =
        new ProcessBuilder("haproxy", "-c", "-f", file.toString(), "-f", IMAGE.resolve("kontrol.cfg").toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return p.exitValue() == 0 ? "ok" : "exit " + p.exitValue() + ": " + out;
  }
}
