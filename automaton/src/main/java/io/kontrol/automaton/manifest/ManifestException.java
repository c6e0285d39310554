package io.kontrol.automaton.manifest;

import java.util.List;

/** A manifest that must not run, with every problem found in it (at least one). */
public final class ManifestException extends Exception {

  private final transient List<Problem> problems;

  public ManifestException(List<Problem> problems) {
    super(describe(problems));
    if (problems.isEmpty()) {
      throw new IllegalArgumentException("a ManifestException needs at least one problem");
    }
    this.problems = List.copyOf(problems);
  }

  public List<Problem> problems() {
    return problems;
  }

  private static String describe(List<Problem> problems) {
    StringBuilder b = new StringBuilder();
    for (Problem p : problems) {
      if (b.length() > 0) {
        b.append('\n');
      }
      b.append(p);
    }
    return b.toString();
  }
}
