package io.kontrol.automaton.socket;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RequestTest {

  @Test
  void parsesEveryCommand() {
    assertThat(Request.parse("STATE")).isEqualTo(new Request.State());
    assertThat(Request.parse("DIE")).isEqualTo(new Request.Die());
    assertThat(Request.parse("GOTO B")).isEqualTo(new Request.Transition("B", "", false));
    assertThat(Request.parse("WAIT B")).isEqualTo(new Request.Transition("B", "", true));
    assertThat(Request.parse("SET N 0")).isEqualTo(new Request.Set("N", "0"));
    assertThat(Request.parse("SET EMPTY")).isEqualTo(new Request.Set("EMPTY", ""));
  }

  @Test
  void keepsTheInputVerbatimAsTheOriginalDid() {
    assertThat(Request.parse("GOTO configure {\"a\": 1, \"b\": [1, 2]}"))
        .isEqualTo(new Request.Transition("configure", "{\"a\": 1, \"b\": [1, 2]}", false));
    assertThat(Request.parse("GOTO B  two  spaces ")).isEqualTo(new Request.Transition("B", " two  spaces ", false));
    assertThat(Request.parse("SET MSG hello   world")).isEqualTo(new Request.Set("MSG", "hello   world"));
    assertThat(Request.parse("WAIT B\tx")).isEqualTo(new Request.Transition("B\tx", "", true));
    assertThat(Request.parse("GOTO B h\u00e9llo")).isEqualTo(new Request.Transition("B", "h\u00e9llo", false));
  }

  @Test
  void toleratesCrlfAndTrailingWordsOnStateAndDie() {
    assertThat(Request.parse("STATE\r")).isEqualTo(new Request.State());
    assertThat(Request.parse("STATE please")).isEqualTo(new Request.State());
    assertThat(Request.parse("GOTO B\r")).isEqualTo(new Request.Transition("B", "", false));
  }

  @Test
  void refusesEverythingElse() {
    assertThat(Request.parse("")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("\r")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("state")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("goto B")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("Goto B")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("GOTO")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("GOTO ")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("GOTO  B")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("SET")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse(" STATE")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("HELLO")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("GOTO B \u0000")).isInstanceOf(Request.Invalid.class);
    assertThat(Request.parse("\u001b[31mSTATE")).isInstanceOf(Request.Invalid.class);
  }
}
