package io.kontrol.agent.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kontrol.agent.identity.Identity;
import io.kontrol.agent.render.RenderException;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class TelegrafConfigTest {

  static Identity pod(String annotations) {
    return Identity.fromEnv(Map.of("KONTROL_ID", "nats-0",
        "KONTROL_LABELS", "{\"app\":\"nats\",\"app.kubernetes.io/part-of\":\"a \\\"quoted\\\" \\\\ value\"}",
        "KONTROL_ANNOTATIONS", annotations));
  }

  @Test
  void withoutTheAnnotationThereIsNoConfiguration() throws Exception {
    assertThat(TelegrafConfig.render(pod("{}"))).isEmpty();
  }

  @Test
  void theAnnotationGivesTheOpentsdbHostAndLabelsBecomeGlobalTags() throws Exception {
    String conf = TelegrafConfig.render(pod("{\"kontrol.unity3d.com/opentsdb\":\"kairosdb.example.info\"}")).orElseThrow();
    assertThat(conf).contains("[[outputs.opentsdb]]\n  host = \"kairosdb.example.info\"\n  port = 4242\n")
        .contains("  app = \"nats\"\n")
        .contains("  app_kubernetes_io_part-of = \"a \\\"quoted\\\" \\\\ value\"\n")
        .contains("hostname = \"nats-0\"")
        .contains("[[inputs.statsd]]\n  service_address = \"127.0.0.1:8125\"")
        .contains("delete_gauges = false").doesNotContain("delete_gauges = true")
        // the agent's StatsdRegistry sends telegraf's own tag syntax (name,tag=value:1|c):
        // datadog extensions or templates would parse it differently
        .doesNotContain("datadog_extensions", "templates");
  }

  @Test
  void aHostWithAPortKeepsIt() throws Exception {
    String conf = TelegrafConfig.render(pod("{\"kontrol.unity3d.com/opentsdb\":\"tsdb:4343\"}")).orElseThrow();
    assertThat(conf).contains("host = \"tsdb\"\n  port = 4343\n");
  }

  @Test
  void aMalformedPortIsAClearError() {
    assertThatThrownBy(() -> TelegrafConfig.render(pod("{\"kontrol.unity3d.com/opentsdb\":\"tsdb:http\"}")))
        .isInstanceOf(RenderException.class).hasMessageContaining("host or host:port");
  }
}
