package io.kontrol.automaton.testing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The extension's lifecycles: one automaton per class (nested classes included), or per test. */
@Timeout(120)
@TestMethodOrder(OrderAnnotation.class)
class AutomatonExtensionTest {
  static final String YAML = "initial: idle\nterminal: done\nstates:\n- tag: idle\n  next: ['*']\n- tag: done\n";

  @RegisterExtension static final AutomatonExtension SHARED = AutomatonExtension.manifest(YAML).build();
  static long sharedPid;

  @Test
  @Order(1)
  void aStaticFieldGivesTheClassOneRunningAutomaton() throws Exception {
    assertThat(SHARED.state()).isEqualTo("idle");
    sharedPid = SHARED.process().pid();
  }

  @Nested
  class ANestedClass {
    @Test
    void seesTheSameAutomatonAndNoSecondOne() throws Exception {
      // a nested class hears beforeAll too: it must not start (and leak) another automaton
      assertThat(SHARED.process().pid()).isEqualTo(sharedPid);
      assertThat(SHARED.state()).isEqualTo("idle");
    }
  }

  @Nested
  @TestMethodOrder(OrderAnnotation.class)
  class PerTest {
    @RegisterExtension final AutomatonExtension own = AutomatonExtension.manifest(YAML).build();

    @Test
    @Order(1)
    void anInstanceFieldGivesEachTestItsOwn() throws Exception {
      assertThat(own.process().pid()).isNotEqualTo(sharedPid);
      assertThat(own.state()).isEqualTo("idle");
      previous = own.process().pid();
    }

    @Test
    @Order(2)
    void andStopsItAfterTheTest() throws Exception {
      assertThat(own.process().pid()).isNotEqualTo(previous);
      assertThat(ProcessHandle.of(previous).map(ProcessHandle::isAlive)).as("the previous test's automaton").isNotEqualTo(java.util.Optional.of(true));
    }
  }

  static long previous;
}
