package io.kontrol.automaton.socket;

/**
 * One line of the socket protocol, parsed. Words are separated by single spaces, as the original
 * split them: everything after {@code GOTO <state> } is the input verbatim, spaces included.
 * Commands are upper-case; anything else is {@link Invalid}.
 */
public sealed interface Request {

  /** {@code STATE}: reply with the current state's tag. */
  record State() implements Request {}

  /** {@code GOTO <state> [input...]} or {@code WAIT <state> [input...]}. */
  record Transition(String target, String input, boolean waitForScript) implements Request {}

  /** {@code SET <KEY> <value...>}. */
  record Set(String key, String value) implements Request {}

  /** {@code DIE}: go to the terminal state and exit. */
  record Die() implements Request {}

  /** Anything else; the reason is logged, the client gets {@code KO}. */
  record Invalid(String reason) implements Request {}

  /** Parses a line without its line break (a trailing {@code \r} is ignored). */
  static Request parse(String line) {
    if (line.endsWith("\r")) {
      line = line.substring(0, line.length() - 1);
    }
    if (line.isEmpty()) {
      return new Invalid("empty line");
    }
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if ((c < ' ' && c != '\t') || c == 0x7f) {
        return new Invalid("control character 0x" + Integer.toHexString(c) + " at offset " + i);
      }
    }
    int sp = line.indexOf(' ');
    String verb = sp < 0 ? line : line.substring(0, sp);
    String rest = sp < 0 ? "" : line.substring(sp + 1);
    switch (verb) {
      case "STATE":
        return new State();
      case "DIE":
        return new Die();
      case "GOTO":
      case "WAIT": {
        int sp2 = rest.indexOf(' ');
        String target = sp2 < 0 ? rest : rest.substring(0, sp2);
        String input = sp2 < 0 ? "" : rest.substring(sp2 + 1);
        if (target.isEmpty()) {
          return new Invalid(verb + " without a state");
        }
        return new Transition(target, input, verb.equals("WAIT"));
      }
      case "SET": {
        int sp2 = rest.indexOf(' ');
        String key = sp2 < 0 ? rest : rest.substring(0, sp2);
        String value = sp2 < 0 ? "" : rest.substring(sp2 + 1);
        if (key.isEmpty()) {
          return new Invalid("SET without a key");
        }
        return new Set(key, value);
      }
      default:
        return new Invalid("unknown command '" + (verb.length() > 32 ? verb.substring(0, 32) + "..." : verb) + "'");
    }
  }
}
