package io.kontrol.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The strict parser the metrics tests rely on rejects what the format forbids. */
@Timeout(10)
class PrometheusTextTest {

  @Test
  void readsAWellFormedExposition() {
    PrometheusText t =
        PrometheusText.parse(
            "# HELP a_total runs\n# TYPE a_total counter\na_total{group=\"x/y\",result=\"ok\"} 3.0\n"
                + "# TYPE d_seconds summary\nd_seconds_count{group=\"x\"} 1\nd_seconds_sum{group=\"x\"} 0.5\n"
                + "# TYPE g gauge\ng{v=\"a\\\"b\\\\c\\n\"} -Inf\n");
    assertThat(t.value("a_total", Map.of("result", "ok"))).contains(3.0);
    assertThat(t.named("g").get(0).labels()).containsEntry("v", "a\"b\\c\n");
    assertThat(t.types()).containsEntry("d_seconds", "summary");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a 1", // no final newline
        "a{x=\"1\"} 1\na{y=\"1\"} 1\n", // two label sets for one name
        "a 1\nb 1\na 2\n", // a family split
        "a 1\na 1\n", // duplicate series
        "# TYPE a gauge\n# TYPE a gauge\na 1\n", // two TYPEs
        "a 1\n# TYPE a gauge\n", // TYPE after samples
        "a{x=1} 1\n", // unquoted value
        "a{x=\"\\t\"} 1\n", // bad escape
        "a  1\n", // two spaces
        "a one\n", // not a number
        "1a 1\n", // bad name
        "\n", // empty line
        "# TYPE a widget\na 1\n", // unknown type
        "# TYPE a counter\na_sum 1\n" // a counter with a summary's suffix
      })
  void rejectsWhatTheFormatForbids(String text) {
    assertThatThrownBy(() -> PrometheusText.parse(text)).isInstanceOf(IllegalArgumentException.class);
  }
}
