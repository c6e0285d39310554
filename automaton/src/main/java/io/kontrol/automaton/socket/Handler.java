package io.kontrol.automaton.socket;

/** What the server does with a complete line. Called on the server's thread: must not block. */
@FunctionalInterface
public interface Handler {

  /**
   * @param line the request line, without its line break; null when the client sent bytes that
   *     are not UTF-8 text
   * @param reply answers the client and closes the connection; call it exactly once, from any
   *     thread, now or later
   */
  void handle(String line, Reply reply);

  /** The answer channel of one connection. */
  @FunctionalInterface
  interface Reply {
    /** Sends {@code text} and a line break, then closes. Later calls do nothing. */
    void send(String text);
  }
}
