package io.kontrol.automaton.manifest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GlobTest {

  @ParameterizedTest(name = "''{0}'' matches ''{1}'': {2}")
  @CsvSource({
    "*, anything, true",
    "*, '', true",
    "expose-via-*, expose-via-route53, true",
    "expose-via-*, expose-via-, true",
    "expose-via-*, expose-route53, false",
    "conf?gure, configure, true",
    "conf?gure, confgure, false",
    "[ab]x, ax, true",
    "[ab]x, cx, false",
    "[!ab]x, cx, true",
    "[!ab]x, ax, false",
    "[a-c]1, b1, true",
    "[a-c]1, d1, false",
    "[]]x, ]x, true",
    "[x, [x, true",
    "a.b, a.b, true",
    "a.b, axb, false",
    "a+(b), a+(b), true",
    "Start, start, false",
    "s*t*e, state, true",
    "[^a]x, ^x, true",
    "[^a]x, bx, false",
    // reversed ranges match nothing, as in Python 3 (java.util.regex would refuse the pattern)
    "'[s- ]', s, false",
    "'[s- ]', ' ', false",
    "'[s- ]', -, false",
    "[!z-a], q, true",
    "x[c-a]y, xby, false",
    "[a-], -, true",
    "[a-], a, true",
    "[--/], ., true",
    "[a-c-e], -, true",
    "[a-c-e], d, false",
    "[a-c-e], e, true",
    "[!], [!], true",
    "[\\]x, \\x, true",
    "[&&a]x, &x, true",
  })
  void behavesLikePythonFnmatch(String pattern, String tag, boolean expected) {
    assertThat(Glob.of(pattern).matches(tag)).isEqualTo(expected);
  }

  @Test
  void literalPatternsAreRecognised() {
    assertThat(Glob.of("configure").isLiteral()).isTrue();
    assertThat(Glob.of("expose-*").isLiteral()).isFalse();
    assertThat(Glob.of("a?").isLiteral()).isFalse();
    assertThat(Glob.of("[ab]").isLiteral()).isFalse();
  }
}
