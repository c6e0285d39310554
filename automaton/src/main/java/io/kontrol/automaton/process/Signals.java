package io.kontrol.automaton.process;

import java.util.function.Consumer;
import sun.misc.Signal;

/**
 * Turns SIGTERM, SIGINT and SIGHUP into an orderly shutdown instead of the JVM's immediate exit
 * (status 143): the program finishes its work (the automaton its terminal state, the agent leaves
 * its groups) and exits 0 afterwards, as supervisord's {@code exitcodes=0} expects.
 */
public final class Signals {

  private Signals() {}

  /** Calls {@code handler} with the signal's name (TERM, INT, HUP), on a JVM signal thread. */
  public static void onTermination(Consumer<String> handler) {
    for (String name : new String[] {"TERM", "INT", "HUP"}) {
      try {
        Signal.handle(new Signal(name), s -> handler.accept(s.getName()));
      } catch (IllegalArgumentException e) {
        // signal not available here (or reserved by -Xrs): the shutdown hook still cleans up
      }
    }
  }
}
