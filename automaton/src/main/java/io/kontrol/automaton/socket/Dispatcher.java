package io.kontrol.automaton.socket;

import io.kontrol.automaton.machine.Machine;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Routes protocol lines to the {@link Machine} and its answers back to the client. */
public final class Dispatcher implements Handler {

  private static final Logger log = LoggerFactory.getLogger("automaton.socket");

  private final Machine machine;

  public Dispatcher(Machine machine) {
    this.machine = Objects.requireNonNull(machine, "machine");
  }

  @Override
  public void handle(String line, Reply reply) {
    if (line == null) {
      log.info("socket <- (bytes that are not UTF-8 text) -> KO");
      reply.send("KO");
      return;
    }
    Request request = Request.parse(line);
    if (log.isDebugEnabled() && !(request instanceof Request.State) && !(request instanceof Request.Invalid)) {
      log.debug("socket <- {}", abbreviate(line));
    }
    if (request instanceof Request.State) {
      String state = machine.state();
      reply.send(state == null ? "KO" : state);
    } else if (request instanceof Request.Transition) {
      Request.Transition t = (Request.Transition) request;
      machine.transition(t.target(), t.input(), t.waitForScript() ? Machine.Mode.WAIT : Machine.Mode.GOTO)
          .whenComplete((ok, e) -> reply.send(Boolean.TRUE.equals(ok) ? "OK" : "KO"));
    } else if (request instanceof Request.Set) {
      Request.Set s = (Request.Set) request;
      machine.set(s.key(), s.value()).whenComplete((ok, e) -> {
        if (!Boolean.TRUE.equals(ok)) {
          log.info("SET {} refused: not a valid variable name, or one automaton sets itself", s.key());
        }
        reply.send(Boolean.TRUE.equals(ok) ? "OK" : "KO");
      });
    } else if (request instanceof Request.Die) {
      reply.send("OK");
      machine.shutdown("DIE");
    } else {
      log.info("socket <- {} -> KO ({})", abbreviate(line), ((Request.Invalid) request).reason());
      reply.send("KO");
    }
  }

  /** At most 200 characters, control characters shown as '?': a log line stays one clean line. */
  static String abbreviate(String s) {
    String cut = s.length() <= 200 ? s : s.substring(0, 200);
    StringBuilder b = new StringBuilder(cut.length() + 24);
    for (int i = 0; i < cut.length(); i++) {
      char c = cut.charAt(i);
      b.append(c < ' ' || c == 0x7f ? '?' : c);
    }
    if (cut.length() < s.length()) {
      b.append("... (").append(s.length()).append(" chars)");
    }
    return b.toString();
  }
}
