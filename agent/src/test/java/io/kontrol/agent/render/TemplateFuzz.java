package io.kontrol.agent.render;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * Random templates with random variables, strict and lenient: {@link TemplateRenderer#render}
 * gives a string or a {@link RenderException} whose message says what is wrong and where (a
 * template line, or the undefined names). Anything else thrown, or an input that does not finish
 * within the per-input timeout, is a finding.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TemplateFuzz {

  final TemplateRenderer strict = TemplateRenderer.strict();
  final TemplateRenderer lenient = TemplateRenderer.lenient();

  // CI fuzzes a fixed number of inputs from a fixed seed (see CONTRIBUTING.md, "Fuzz")
  @FuzzTest(maxDuration = "30s", maxExecutions = 2000)
  void render(FuzzedDataProvider data) {
    TemplateRenderer renderer = data.consumeBoolean() ? strict : lenient;
    Map<String, Object> vars = new LinkedHashMap<>();
    int n = data.consumeInt(0, 4);
    for (int i = 0; i < n; i++) {
      vars.put(data.consumeAsciiString(8), value(data, 2));
    }
    String template = data.consumeRemainingAsString();
    try {
      String out = renderer.render(template, vars);
      assertThat(out).isNotNull();
    } catch (RenderException e) {
      assertThat(e.getMessage()).as("message").isNotBlank();
      assertThat(e.line() > 0 || e.getMessage().startsWith("undefined variable"))
          .as("the error carries a template line: %s", e.getMessage()).isTrue();
    }
  }

  private static Object value(FuzzedDataProvider data, int depth) {
    switch (depth > 0 ? data.consumeInt(0, 4) : data.consumeInt(0, 2)) {
      case 0:
        return data.consumeString(16);
      case 1:
        return data.consumeInt();
      case 2:
        return data.consumeBoolean();
      case 3: {
        List<Object> list = new ArrayList<>();
        for (int i = data.consumeInt(0, 3); i > 0; i--) {
          list.add(value(data, depth - 1));
        }
        return list;
      }
      default: {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = data.consumeInt(0, 3); i > 0; i--) {
          map.put(data.consumeAsciiString(6), value(data, depth - 1));
        }
        return map;
      }
    }
  }
}
