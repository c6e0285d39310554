package io.kontrol.service.haproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Configurator} against a real HAProxy 2.6 master-worker on loopback: first start, no-op,
 * reload confirmed through {@code show proc}, the runtime API for slot changes, and every bad
 * input (render, check, reload) leaving the running proxy and its file as they were. One HAProxy
 * for the class; the steps build on each other, in order.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class ConfiguratorTest {

  @TempDir static Path dir;

  private HaproxyProcess haproxy;
  private Configurator configurator;
  private final List<String> logs = new CopyOnWriteArrayList<>();
  private Map<String, String> env;

  /** The seed README's HTTP template, on loopback ports given through env. */
  private static final String TEMPLATE = HaproxyProcess.TEMPLATE;

  /** Two slots for app web: unused ones disabled on a placeholder address. */
  private static final String SLOTS =
      String.join("\n",
          "defaults",
          "  mode http",
          "  timeout connect 2s",
          "  timeout client 10s",
          "  timeout server 10s",
          "",
          "frontend proxy",
          "  bind                127.0.0.1:{{ env.PROXY_PORT }}",
          "  default_backend     web",
          "",
          "backend web",
          "  balance             roundrobin",
          "  {%- set ips = hosts['web'] if 'web' in hosts else [] %}",
          "  {%- for i in range(2) %}",
          "  {%- if i < ips | length %}",
          "  server web-{{ i + 1 }} {{ ips[i] }}",
          "  {%- else %}",
          "  server web-{{ i + 1 }} 127.0.0.1:1 disabled",
          "  {%- endif %}",
          "  {%- endfor %}",
          "");

  @BeforeAll
  void startDownstream() throws Exception {
    haproxy = new HaproxyProcess(dir);
    configurator = haproxy.configurator(logs);
    env =
        Map.of(
            "PROXY_PORT", String.valueOf(haproxy.proxyPort),
            "PORT_A", String.valueOf(haproxy.webA),
            "PORT_B", String.valueOf(haproxy.webB));
  }

  @AfterAll
  void stop() throws Exception {
    if (haproxy != null) {
      haproxy.close();
    }
  }

  private Outcome configure(String template, Map<String, List<String>> hosts) throws Exception {
    return configurator.configure(Hosts.canonical(hosts), Optional.ofNullable(template), env);
  }

  private String live() throws Exception {
    return Files.readString(haproxy.live, StandardCharsets.UTF_8);
  }

  /** The bodies of {@code n} requests through the proxy. */
  private Set<String> bodies(int n) {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < n; i++) {
      seen.add(haproxy.get(haproxy.proxyPort));
    }
    return seen;
  }

  @Test
  @Order(1)
  void withNoTemplateTheImagesOwnListenerServesAndThePayloadSaysTheTemplateIsMissing() throws Exception {
    Outcome o = configure(null, Map.of("web", List.of("127.0.0.1")));

    assertThat(o.ok()).isFalse();
    assertThat(o.stage()).isEqualTo("render");
    assertThat(o.message()).contains("no annotation haproxy.unity3d.com/config");
    assertThat(o.toJson().get("status").asText()).isEqualTo("error");
    assertThat(haproxy.get(haproxy.healthPort, "/healthz")).startsWith("200");
    assertThat(live()).isEqualTo(Configurator.EMPTY);
  }

  @Test
  @Order(2)
  void theFirstConfigurationReloadsAndEveryHostServes() throws Exception {
    ProcList before = haproxy.proc();

    Outcome o = configure(TEMPLATE, Map.of("web", List.of("127.0.0.1", "127.0.0.1")));

    assertThat(o.ok()).as(o.logLine()).isTrue();
    assertThat(o.mode()).isEqualTo("reload");
    assertThat(o.message()).matches("reloaded, confirmed by show proc \\d+ ms after the reload command");
    assertThat(o.reloads()).isEqualTo(before.reloads() + 1);
    assertThat(o.failedReloads()).isZero();
    assertThat(o.workerPid()).isNotEqualTo(before.newest().orElseThrow().pid());
    assertThat(live()).endsWith("\n").contains("server web-1 127.0.0.1:" + haproxy.webA);
    // the same IP twice is one server
    assertThat(live()).doesNotContain("web-2");
    assertThat(bodies(4)).containsExactly("200 a");
  }

  @Test
  @Order(3)
  void theSameHostsInAnotherOrderChangeNothing() throws Exception {
    configure(TEMPLATE, Map.of("web", List.of("127.0.0.1", "127.0.0.2")));
    ProcList before = haproxy.proc();
    String file = live();

    Outcome o = configure(TEMPLATE, Map.of("web", List.of("127.0.0.2", "127.0.0.1")));

    assertThat(o.mode()).isEqualTo("noop");
    assertThat(o.ok()).isTrue();
    assertThat(haproxy.proc().reloads()).isEqualTo(before.reloads());
    assertThat(live()).isEqualTo(file);
  }

  @Test
  @Order(4)
  void aTemplateThatDoesNotRenderChangesNothingAndNamesItsLine() throws Exception {
    ProcList before = haproxy.proc();
    String file = live();

    Outcome o = configure("frontend x\n  bind :1\n{% for ip in hosts %}\n  server {{ ip }}\n", Map.of("web", List.of("127.0.0.1")));

    assertThat(o.ok()).isFalse();
    assertThat(o.stage()).isEqualTo("render");
    assertThat(o.message()).contains("haproxy.unity3d.com/config").contains("line 3");
    assertUnchanged(before, file);
  }

  @Test
  @Order(5)
  void aConfigurationHaproxyRefusesIsNeverApplied() throws Exception {
    ProcList before = haproxy.proc();
    String file = live();

    Outcome o = configure(TEMPLATE.replace("{{ip}}:{{", "{{ip}}:{{").replace("{%- endfor %}\n  {%- endfor %}", "  check bogus\n  {%- endfor %}\n  {%- endfor %}"),
        Map.of("web", List.of("127.0.0.1")));

    assertThat(o.ok()).isFalse();
    assertThat(o.stage()).isEqualTo("check");
    assertThat(o.message()).contains("unknown keyword 'check'").contains("candidate.cfg:");
    assertUnchanged(before, file);
  }

  @Test
  @Order(6)
  void aConfigurationThatFailsAtReloadRestoresTheLastGoodFileAndTheOldWorkerKeepsServing() throws Exception {
    ProcList before = haproxy.proc();
    String file = live();

    // passes haproxy -c (which does not bind), fails when the new process binds
    Outcome o = configure(TEMPLATE.replace("default_backend", "bind 198.51.100.1:8080\n  default_backend"), Map.of("web", List.of("127.0.0.1")));

    assertThat(o.ok()).isFalse();
    assertThat(o.stage()).isEqualTo("reload");
    assertThat(o.message()).contains("cannot bind socket").contains("198.51.100.1:8080");
    assertThat(o.failedReloads()).isGreaterThanOrEqualTo(1);
    assertThat(o.workerPid()).isEqualTo(before.newest().orElseThrow().pid());
    assertThat(live()).isEqualTo(file);
    assertThat(bodies(4)).containsExactlyInAnyOrder("200 a", "200 b");

    // fixing the template recovers, without a restart
    Outcome fixed = configure(TEMPLATE, Map.of("web", List.of("127.0.0.1")));
    assertThat(fixed.ok()).as(fixed.logLine()).isTrue();
    assertThat(fixed.failedReloads()).isZero();
    assertThat(fixed.masterPid()).isEqualTo(before.masterPid());
    assertThat(bodies(4)).containsExactly("200 a");
  }

  private void assertUnchanged(ProcList before, String file) throws Exception {
    ProcList after = haproxy.proc();
    assertThat(after.reloads()).isEqualTo(before.reloads());
    assertThat(after.newest()).isEqualTo(before.newest());
    assertThat(live()).isEqualTo(file);
    assertThat(bodies(4)).containsExactlyInAnyOrder("200 a", "200 b");
  }

  @Test
  @Order(7)
  void slotChangesGoThroughTheRuntimeApiWithoutAReload() throws Exception {
    String a = "127.0.0.1:" + haproxy.webA;
    String b = "127.0.0.2:" + haproxy.webB;
    Outcome first = configure(SLOTS, Map.of("web", List.of(a)));
    assertThat(first.mode()).as(first.logLine()).isEqualTo("reload");
    int reloads = first.reloads();
    await().atMost(Duration.ofSeconds(5)).until(() -> bodies(2).equals(Set.of("200 a")));

    List<List<String>> steps = List.of(List.of(a, b), List.of(b), List.of(), List.of(a), List.of(b, a), List.of(a));
    List<String> modes = new ArrayList<>();
    for (List<String> ips : steps) {
      Outcome o = configure(SLOTS, Map.of("web", ips));
      assertThat(o.ok()).as(o.logLine()).isTrue();
      modes.add(o.mode());
      Set<String> expected = new HashSet<>();
      ips.forEach(ip -> expected.add(ip.equals(a) ? "200 a" : "200 b"));
      if (!expected.isEmpty()) {
        assertThat(bodies(6)).as("after " + ips).isEqualTo(expected);
      } else {
        assertThat(bodies(1)).allMatch(s -> s.startsWith("503"));
      }
      assertThat(live()).as("the file follows, for the next restart").contains(ips.isEmpty() ? "disabled" : ips.get(0));
    }
    assertThat(modes).containsOnly("runtime");
    assertThat(haproxy.proc().reloads()).isEqualTo(reloads);
  }
}
