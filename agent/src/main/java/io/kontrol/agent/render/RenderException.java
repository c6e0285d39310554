package io.kontrol.agent.render;

/** A template could not be rendered; carries the template line when Jinjava knows it. */
public final class RenderException extends Exception {

  private static final long serialVersionUID = 1L;

  private final int line;

  public RenderException(String reason, int line) {
    super(line > 0 ? "line " + line + ": " + reason : reason);
    this.line = line;
  }

  /** The 1-based template line of the error, or -1 when unknown. */
  public int line() {
    return line;
  }
}
