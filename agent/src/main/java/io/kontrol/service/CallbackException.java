package io.kontrol.service;

/**
 * A service callback did not do its job: its state must not change, and the agent runs it again
 * (unless the input itself is unusable, which {@link #badInput()} says).
 */
public final class CallbackException extends Exception {

  private static final long serialVersionUID = 1L;

  private final boolean badInput;

  private CallbackException(String message, boolean badInput) {
    super(message);
    this.badInput = badInput;
  }

  /** A member did not apply the change. */
  public static CallbackException failed(String message) {
    return new CallbackException(message, false);
  }

  /** {@code $PODS} or a record is unusable: retrying the same input cannot help. */
  public static CallbackException badInput(String message) {
    return new CallbackException(message, true);
  }

  public boolean badInput() {
    return badInput;
  }
}
