package io.kontrol.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kontrol.agent.group.Group;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class AgentConfigTest {

  static Map<String, String> env(String... kv) {
    Map<String, String> m = new HashMap<>();
    m.put("KONTROL_ETCD", "10.0.0.9");
    m.put("KONTROL_ID", "nats-0");
    m.put("KONTROL_IP", "10.0.0.1");
    m.put("KONTROL_LABELS", "{\"app\":\"nats\",\"role\":\"broker\"}");
    for (int i = 0; i < kv.length; i += 2) {
      if (kv[i + 1] == null) {
        m.remove(kv[i]);
      } else {
        m.put(kv[i], kv[i + 1]);
      }
    }
    return m;
  }

  @Test
  void defaultsFollowTheSpec() {
    AgentConfig c = AgentConfig.fromEnvironment(env());
    assertThat(c.isSlave()).isTrue();
    assertThat(c.isMaster()).isFalse();
    assertThat(c.etcd()).containsExactly("http://10.0.0.9:2379");
    assertThat(c.port()).isEqualTo(8000);
    assertThat(c.ttl()).isEqualTo(Duration.ofSeconds(25));
    assertThat(c.damper()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.damperMax()).isEqualTo(Duration.ofSeconds(40));
    assertThat(c.fover()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.callbackTimeout()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.namespace()).isEqualTo("default");
    assertThat(c.app()).isEqualTo("nats");
    assertThat(c.role()).isEqualTo("broker");
    assertThat(c.callback()).isEmpty();
    assertThat(c.payload()).isEmpty();
    assertThat(c.env()).containsEntry("KONTROL_ID", "nats-0");
  }

  @Test
  void etcdEndpointsInEveryForm() {
    AgentConfig c =
        AgentConfig.fromEnvironment(
            env("KONTROL_ETCD", "a, b:1234,http://c:5,https://d:6"));
    assertThat(c.etcd())
        .containsExactly("http://a:2379", "http://b:1234", "http://c:5", "https://d:6");
  }

  @Test
  void etcdDefaultsToTheHostAndInDebugToLocalhost() {
    assertThat(AgentConfig.fromEnvironment(env("KONTROL_ETCD", null, "KONTROL_HOST", "10.1.1.1")).etcd())
        .containsExactly("http://10.1.1.1:2379");
    assertThat(AgentConfig.fromEnvironment(env("KONTROL_ETCD", null, "KONTROL_MODE", "debug")).etcd())
        .containsExactly("http://127.0.0.1:2379");
    assertThatThrownBy(() -> AgentConfig.fromEnvironment(env("KONTROL_ETCD", null)))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("KONTROL_ETCD: ");
  }

  @Test
  void mastersAreGroupsByFirstAndSecondLabel() {
    AgentConfig c =
        AgentConfig.fromEnvironment(
            env(
                "NAMESPACE", "prod",
                "KONTROL_MODE", "slave,master",
                "KONTROL_ANNOTATIONS",
                    "{\"kontrol.unity3d.com/master\":\"haproxy.edge.svc, nats\"}"));
    assertThat(c.masters()).containsExactly(new Group("edge", "haproxy"), new Group("prod", "nats"));
    assertThat(c.ownGroup()).isEqualTo(new Group("prod", "nats"));
    assertThat(c.reportsTo()).containsExactly(new Group("edge", "haproxy"), new Group("prod", "nats"));
    assertThat(c.ownGroup().prefix()).isEqualTo("/kontrol/prod/nats");
  }

  @Test
  void masterOnlyReportsNowhere() {
    AgentConfig c = AgentConfig.fromEnvironment(env("KONTROL_MODE", "master"));
    assertThat(c.reportsTo()).isEmpty();
    assertThat(c.isMaster()).isTrue();
  }

  @Test
  void overridesWinOverTheEnvironment() {
    AgentConfig c =
        AgentConfig.from(env("KONTROL_TTL", "30"), Map.of("KONTROL_TTL", "3", "KONTROL_DAMPER", "0.5"));
    assertThat(c.ttl()).isEqualTo(Duration.ofSeconds(3));
    assertThat(c.damper()).isEqualTo(Duration.ofMillis(500));
    assertThat(c.damperMax()).isEqualTo(Duration.ofSeconds(2));
    assertThat(c.env()).containsEntry("KONTROL_TTL", "3");
  }

  @Test
  void badSettingsNameTheirVariableOnOneLine() {
    String[][] cases = {
      {"KONTROL_MODE", "slave,boss", "KONTROL_MODE"},
      {"KONTROL_LABELS", "{\"app\":\"x\"}", "KONTROL_LABELS"},
      {"KONTROL_LABELS", "not json", "KONTROL_LABELS"},
      {"KONTROL_LABELS", "[1]", "KONTROL_LABELS"},
      {"KONTROL_LABELS", null, "KONTROL_LABELS"},
      {"KONTROL_ANNOTATIONS", "{", "KONTROL_ANNOTATIONS"},
      {"KONTROL_ANNOTATIONS", "{\"kontrol.unity3d.com/master\":\".x\"}", "KONTROL_ANNOTATIONS"},
      {"KONTROL_TTL", "ten", "KONTROL_TTL"},
      {"KONTROL_TTL", "0", "KONTROL_TTL"},
      {"KONTROL_PORT", "70000", "KONTROL_PORT"},
      {"KONTROL_DAMPER", "-1", "KONTROL_DAMPER"},
      {"KONTROL_DAMPER_MAX", "1", "KONTROL_DAMPER_MAX"},
      {"KONTROL_CALLBACK_TIMEOUT", "0", "KONTROL_CALLBACK_TIMEOUT"},
      {"KONTROL_FOVER", "1.5", "KONTROL_FOVER"},
      {"KONTROL_IP", "10.0.0", "KONTROL_IP"},
      {"KONTROL_ID", "a/b", "KONTROL_ID"},
      {"KONTROL_ETCD", "ftp://x", "KONTROL_ETCD"},
      {"KONTROL_ETCD", "http://x:1/path", "KONTROL_ETCD"},
      {"NAMESPACE", "a/b", "NAMESPACE"},
    };
    for (String[] c : cases) {
      assertThatThrownBy(() -> AgentConfig.fromEnvironment(env(c[0], c[1])))
          .as("%s=%s", c[0], c[1])
          .isInstanceOf(ConfigException.class)
          .hasMessageStartingWith(c[2] + ": ")
          .hasMessageNotContaining("\n")
          .extracting(e -> ((ConfigException) e).variable())
          .isEqualTo(c[2]);
    }
  }
}
