package io.kontrol.service;

/**
 * A service image's leader callback: from the group's records and the last state, it brings the
 * members up to date (usually through a {@link Fanout}) and returns the new state.
 */
@FunctionalInterface
public interface ServiceCallback {
  /**
   * @return the new state, which the agent stores and passes back as {@code $STATE} next time
   * @throws CallbackException when the input is unusable or a member did not apply the change
   */
  String run(CallbackInput input) throws CallbackException;
}
