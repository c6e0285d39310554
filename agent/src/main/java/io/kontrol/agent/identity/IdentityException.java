package io.kontrol.agent.identity;

/** The pod's identity cannot be resolved; the message says which step failed and why. */
public final class IdentityException extends Exception {

  public IdentityException(String message) {
    super(message);
  }

  public IdentityException(String message, Throwable cause) {
    super(message, cause);
  }
}
