package io.kontrol.agent.identity;

/** The Downward API annotations file cannot be read or is malformed; the message names file and line. */
public final class PodInfoException extends Exception {

  private static final long serialVersionUID = 1L;

  public PodInfoException(String message) {
    super(message);
  }

  public PodInfoException(String message, Throwable cause) {
    super(message, cause);
  }
}
