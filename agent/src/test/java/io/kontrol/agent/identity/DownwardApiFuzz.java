package io.kontrol.agent.identity;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * The Downward API {@code annotations} file. Any bytes: {@link PodInfo#parse} gives annotations, or a
 * {@link PodInfoException} naming the file and the line. And any annotations, quoted as the
 * kubelet does (Go's {@code strconv.Quote}), parse back to exactly themselves.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DownwardApiFuzz {

  static final String SOURCE = "/etc/podinfo/annotations";

  // CI fuzzes a fixed number of inputs from a fixed seed (see CONTRIBUTING.md, "Fuzz")
  @FuzzTest(maxDuration = "30s", maxExecutions = 75000)
  void parse(FuzzedDataProvider data) {
    if (data.consumeBoolean()) {
      anyBytes(data.consumeRemainingAsBytes());
    } else {
      roundTrip(data);
    }
  }

  private static void anyBytes(byte[] bytes) {
    Map<String, String> out;
    try {
      out = PodInfo.parse(bytes, SOURCE);
    } catch (PodInfoException e) {
      assertThat(e.getMessage()).startsWith(SOURCE + " line ");
      return;
    }
    assertThat(out).isNotNull();
    out.keySet().forEach(k -> assertThat(k).isNotEmpty().doesNotContain("=").doesNotContainPattern("\\s"));
  }

  private static void roundTrip(FuzzedDataProvider data) {
    Map<String, String> annotations = new TreeMap<>();
    for (int i = data.consumeInt(0, 5); i > 0; i--) {
      // an annotation key as Kubernetes allows it: [prefix/]name of letters, digits, '-', '_', '.'
      String key = data.consumeAsciiString(24).replaceAll("[^A-Za-z0-9._/-]", "");
      if (!key.isEmpty()) {
        annotations.put(key, data.consumeString(64));
      }
    }
    StringBuilder file = new StringBuilder();
    annotations.forEach((k, v) -> file.append(file.length() == 0 ? "" : "\n").append(k).append('=').append(goQuote(v)));
    try {
      assertThat(PodInfo.parse(file.toString().getBytes(StandardCharsets.UTF_8), SOURCE)).isEqualTo(annotations);
    } catch (PodInfoException e) {
      throw new AssertionError("the kubelet's own quoting was refused: " + e.getMessage() + "\n" + file, e);
    }
  }

  /** Go's strconv.Quote of valid UTF-8 text (a Java string): what the kubelet writes. */
  static String goQuote(String s) {
    StringBuilder b = new StringBuilder("\"");
    s.codePoints().forEach(cp -> {
      switch (cp) {
        case 7 -> b.append("\\a");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case 11 -> b.append("\\v");
        case '\\' -> b.append("\\\\");
        case '"' -> b.append("\\\"");
        default -> {
          if (cp >= 0xD800 && cp <= 0xDFFF) {
            b.append("\\ufffd"); // a lone surrogate is not UTF-8: Go writes the replacement character
          } else if (cp < 0x20 || cp == 0x7f) {
            b.append(String.format("\\x%02x", cp));
          } else if (!Character.isDefined(cp) || Character.getType(cp) == Character.FORMAT
              || Character.getType(cp) == Character.PRIVATE_USE || Character.isISOControl(cp)) {
            b.append(cp > 0xffff ? String.format("\\U%08x", cp) : String.format("\\u%04x", cp));
          } else {
            b.appendCodePoint(cp);
          }
        }
      }
    });
    return b.append('"').toString();
  }
}
