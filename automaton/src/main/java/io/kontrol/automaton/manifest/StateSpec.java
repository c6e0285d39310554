package io.kontrol.automaton.manifest;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One state of a manifest.
 *
 * @param tag its name, as used by {@code GOTO}
 * @param shell the script run when the state is entered ({@code /bin/sh -c}), if any
 * @param next patterns of the states it may go to; empty means final (the terminal state stays
 *     reachable from any state but itself)
 * @param force when true a running script is not killed by a newer transition
 * @param line where the state is declared (1-based), for messages
 */
public record StateSpec(String tag, Optional<String> shell, List<Glob> next, boolean force, int line) {

  public StateSpec {
    Objects.requireNonNull(tag, "tag");
    Objects.requireNonNull(shell, "shell");
    next = List.copyOf(next);
  }

  /** True when one of this state's {@code next} patterns matches {@code target}. */
  public boolean lists(String target) {
    for (Glob g : next) {
      if (g.matches(target)) {
        return true;
      }
    }
    return false;
  }
}
