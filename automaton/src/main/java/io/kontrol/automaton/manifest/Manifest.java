package io.kontrol.automaton.manifest;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A validated state machine: every state named by {@code initial}, {@code terminal} and by a
 * literal {@code next} entry exists. Immutable.
 */
public final class Manifest {

  private final Path source;
  private final String initial;
  private final String terminal;
  private final Map<String, StateSpec> states;
  private final List<Problem> warnings;

  Manifest(Path source, String initial, String terminal, Map<String, StateSpec> states, List<Problem> warnings) {
    this.source = Objects.requireNonNull(source, "source");
    this.initial = Objects.requireNonNull(initial, "initial");
    this.terminal = Objects.requireNonNull(terminal, "terminal");
    this.states = Collections.unmodifiableMap(new LinkedHashMap<>(states));
    this.warnings = List.copyOf(warnings);
    if (!this.states.containsKey(initial) || !this.states.containsKey(terminal)) {
      throw new IllegalArgumentException("initial and terminal must name states");
    }
  }

  /** Builds a manifest in code (tests, embedding); states in declaration order. */
  public static Manifest of(String initial, String terminal, List<StateSpec> states) {
    Map<String, StateSpec> byTag = new LinkedHashMap<>();
    for (StateSpec s : states) {
      if (byTag.put(s.tag(), s) != null) {
        throw new IllegalArgumentException("duplicate state " + s.tag());
      }
    }
    return new Manifest(Path.of("<memory>"), initial, terminal, byTag, List.of());
  }

  public Path source() {
    return source;
  }

  public String initial() {
    return initial;
  }

  public String terminal() {
    return terminal;
  }

  /** All states, in the order the manifest declares them. */
  public Map<String, StateSpec> states() {
    return states;
  }

  public Optional<StateSpec> state(String tag) {
    return Optional.ofNullable(states.get(tag));
  }

  /** Things that do not stop the manifest from running but are probably mistakes. */
  public List<Problem> warnings() {
    return warnings;
  }

  /**
   * The transition rule of the original automaton: from the terminal state nothing is allowed;
   * from any other state, the terminal state and every state matching one of its {@code next}
   * patterns. {@code from == null} is the state before the initial one, which allows anything.
   */
  public boolean allows(String from, String to) {
    if (!states.containsKey(to)) {
      return false;
    }
    if (from == null) {
      return true;
    }
    if (from.equals(terminal)) {
      return false;
    }
    if (to.equals(terminal)) {
      return true;
    }
    StateSpec spec = states.get(from);
    return spec != null && spec.lists(to);
  }

  /** The states reachable in one transition from {@code from}, in declaration order. */
  public List<String> targets(String from) {
    List<String> out = new ArrayList<>();
    for (String tag : states.keySet()) {
      if (allows(from, tag)) {
        out.add(tag);
      }
    }
    return out;
  }

  @Override
  public String toString() {
    return "Manifest[" + source + ", initial=" + initial + ", terminal=" + terminal + ", states=" + states.keySet() + "]";
  }
}
