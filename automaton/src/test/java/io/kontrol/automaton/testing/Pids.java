package io.kontrol.automaton.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What tests ask of a process they know only by its pid (a child a command left behind). */
public final class Pids {

  private Pids() {}

  /**
   * True when {@code pid} no longer runs: gone, or a zombie. A killed orphan is re-parented to
   * PID 1, and a PID 1 that does not reap (a plain container entrypoint) leaves it a zombie for
   * good, which {@link ProcessHandle#isAlive()} still counts as alive.
   */
  public static boolean gone(long pid) {
    if (ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true)) {
      return true;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      // "pid (comm) S ...": the state follows the last ')', as comm may hold spaces or parens
      int close = stat.lastIndexOf(')');
      return close > 0 && stat.length() > close + 2 && stat.charAt(close + 2) == 'Z';
    } catch (IOException e) {
      return true;
    }
  }
}
