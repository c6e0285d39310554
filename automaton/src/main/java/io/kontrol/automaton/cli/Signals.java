package io.kontrol.automaton.cli;

import java.util.function.Consumer;
import sun.misc.Signal;

/**
 * Turns SIGTERM, SIGINT and SIGHUP into an orderly shutdown instead of the JVM's immediate exit:
 * the terminal state's script must run, and the process must exit 0 afterwards (supervisord's
 * {@code exitcodes=0}).
 */
final class Signals {

  private Signals() {}

  static void onTermination(Consumer<String> handler) {
    for (String name : new String[] {"TERM", "INT", "HUP"}) {
      try {
        Signal.handle(new Signal(name), s -> handler.accept(s.getName()));
      } catch (IllegalArgumentException e) {
        // signal not available here (or reserved by -Xrs): the shutdown hook still cleans up
      }
    }
  }
}
