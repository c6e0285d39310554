package io.kontrol.agent.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Downward API annotations format: the kubelet writes {@code key="value"} lines, the value
 * quoted by Go's {@code strconv.Quote} (the expected strings below are what Go prints for them).
 */
@Timeout(10)
class PodInfoTest {

  @TempDir Path dir;

  private static Map<String, String> parse(String text) throws PodInfoException {
    return PodInfo.parse(text.getBytes(StandardCharsets.UTF_8), "annotations");
  }

  @Test
  void theKubeletsFormatSortedKeysNoFinalNewline() throws PodInfoException {
    // as the kubelet writes a pod with a multi-line template and the master annotation
    String file = "kontrol.unity3d.com/master=\"nats.default.svc\"\n"
        + "nats.unity3d.com/config=\"listen: 0.0.0.0:4242\\n{% for p in peers %}\\nroute {{ p }}\\n{% endfor %}\\n\"";
    assertThat(parse(file)).containsExactly(
        Map.entry("kontrol.unity3d.com/master", "nats.default.svc"),
        Map.entry("nats.unity3d.com/config", "listen: 0.0.0.0:4242\n{% for p in peers %}\nroute {{ p }}\n{% endfor %}\n"));
  }

  @Test
  void anEmptyFileIsAPodWithoutAnnotationsAndAFinalNewlineIsAccepted() throws PodInfoException {
    assertThat(parse("")).isEmpty();
    assertThat(parse("a=\"1\"\nb=\"2\"\n")).containsExactly(Map.entry("a", "1"), Map.entry("b", "2"));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      // Go's strconv.Quote output | the value it stands for (Java escapes)
      "'\"plain text, with = and spaces\"' | 'plain text, with = and spaces'",
      "'\"a\\\"b\"'           | 'a\"b'",
      "'\"back\\\\slash\"'    | 'back\\slash'",
      "'\"l1\\nl2\"'          | 'l1\nl2'",
      "'\"tab\\there\"'       | 'tab\there'",
      "'\"cr\\r\"'            | 'cr\r'",
      "'\"\\a\\b\\f\\v\"'     | '\u0007\b\f\u000b'",
      "'\"\\x00\\x1b\\x7f\"'  | '\u0000\u001b\u007f'",
      "'\"zw\\u200bsp\"'      | 'zw\u200bsp'",
      "'\"tag\\U000e0001\"'   | 'tag\udb40\udc01'",
      "'\"\\101\\102\"'       | 'AB'",
      "'\"é ü 😀\"'            | 'é ü 😀'",
      "'\"{\\\"k\\\": [1, 2]}\"' | '{\"k\": [1, 2]}'",
  })
  void everyGoEscape(String quoted, String expected) {
    assertThat(PodInfo.unquote(quoted)).isEqualTo(expected);
  }

  @Test
  void anEmptyValue() throws PodInfoException {
    assertThat(parse("a=\"\"")).containsExactly(Map.entry("a", ""));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "'a=\"1\"\nno equals sign here' | 'annotations line 2: expected key=\"value\", found no ''='''",
      "'a=\"unterminated'             | 'annotations line 1: the value of a must be a double-quoted string'",
      "'a=unquoted'                   | 'annotations line 1: the value of a must be a double-quoted string'",
      "'a=\"x\" trailing'             | 'annotations line 1: the value of a must be a double-quoted string'",
      "'a=\"x\"y\"'                   | 'annotations line 1: the value of a has an unescaped ''\"'' at column 5'",
      "'a=\"\\q\"'                    | 'annotations line 1: the value of a has an unknown escape ''\\q'' at column 4'",
      "'a=\"\\''\"'                   | 'annotations line 1: the value of a has an unknown escape'",
      "'a=\"\\x4\"'                   | 'annotations line 1: the value of a has \\x at column 4 without 2 hex digits'",
      "'a=\"\\u12G4\"'                | 'annotations line 1: the value of a has \\u at column 4 without 4 hex digits'",
      "'a=\"\\ud800\"'                | 'naming no Unicode character'",
      "'a=\"\\U00110000\"'            | 'naming no Unicode character'",
      "'a=\"\\400\"'                  | 'above \\377'",
      "'a=\"\\12\"'                   | 'without 3 digits'",
      "'a=\"ends\\\"'                 | 'ends in a lone ''\\'' at column 8'",
      "'=\"1\"'                       | 'annotations line 1: the key before ''='' must be an annotation name'",
      "'a b=\"1\"'                    | 'the key before ''='' must be an annotation name without spaces, not ''a b'''",
      "'a=\"1\"\na=\"2\"'             | 'annotations line 2: annotation a appears twice'",
  })
  void badLinesAreRefusedWithFileAndLine(String text, String message) {
    assertThatThrownBy(() -> parse(text)).isInstanceOf(PodInfoException.class).hasMessageContaining(message);
  }

  @Test
  void aHalfWrittenFileIsRefused() {
    String whole = "a=\"1\"\nb=\"a long value\"";
    String half = whole.substring(0, whole.length() - 6);
    assertThatThrownBy(() -> parse(half)).isInstanceOf(PodInfoException.class)
        .hasMessage("annotations line 2: the value of b must be a double-quoted string (\"...\") ending the line");
  }

  @Test
  void readsThroughTheKubeletsSymlinksAndOverlaysTheVariable() throws Exception {
    Path data = Files.createDirectories(dir.resolve("..2026_12_01_08_00_00.000000001"));
    Files.writeString(data.resolve("annotations"), "kontrol.unity3d.com/master=\"g.ns\"");
    Files.createSymbolicLink(dir.resolve("..data"), data.getFileName());
    Files.createSymbolicLink(dir.resolve("annotations"), Path.of("..data/annotations"));
    Map<String, String> env = Map.of(PodInfo.VARIABLE, dir.toString(), Annotations.VARIABLE, "{\"x\":\"y\"}");

    assertThat(PodInfo.file(env)).isEqualTo(dir.resolve("annotations"));
    assertThat(PodInfo.read(PodInfo.file(env))).contains(Map.of("kontrol.unity3d.com/master", "g.ns"));
    assertThat(PodInfo.overlay(env)).containsEntry(Annotations.VARIABLE, "{\"kontrol.unity3d.com/master\":\"g.ns\"}")
        .containsEntry(PodInfo.VARIABLE, dir.toString());
  }

  @Test
  void withoutTheFileTheVariableStandsAndTheDefaultDirectoryIsEtcPodinfo() throws Exception {
    Map<String, String> env = Map.of(PodInfo.VARIABLE, dir.resolve("missing").toString(), Annotations.VARIABLE, "{}");
    assertThat(PodInfo.read(PodInfo.file(env))).isEmpty();
    assertThat(PodInfo.overlay(env)).isSameAs(env);
    assertThat(PodInfo.file(Map.of())).isEqualTo(Path.of("/etc/podinfo/annotations"));
  }

  @Test
  void aMalformedFileFailsTheOverlayWithItsPathAndLine() throws Exception {
    Files.writeString(dir.resolve("annotations"), "a=\"1\"\nbroken");
    Map<String, String> env = Map.of(PodInfo.VARIABLE, dir.toString());
    assertThatThrownBy(() -> PodInfo.overlay(env)).isInstanceOf(PodInfoException.class)
        .hasMessage(dir.resolve("annotations") + " line 2: expected key=\"value\", found no '='");
  }
}
