package io.kontrol.automaton.manifest;

import java.util.Objects;

/**
 * One thing wrong with a manifest, located in its file ({@code line} and {@code column} count from
 * 1). Printed as {@code file:line:column: reason}, the format editors and CI logs understand.
 */
public record Problem(String file, int line, int column, String reason) {

  public Problem {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(reason, "reason");
  }

  @Override
  public String toString() {
    return file + ":" + line + ":" + column + ": " + reason;
  }
}
