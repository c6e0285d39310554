package io.kontrol.agent.callback;

import java.util.Map;

/**
 * One run of a group's callback with the given environment. {@link CallbackRunner} runs the
 * configured command; tests give the {@link CallbackScheduler} a function.
 */
@FunctionalInterface
public interface Callback {
  /**
   * Runs once and waits for the result.
   *
   * @throws InterruptedException when the caller is interrupted (the run is stopped first)
   */
  CallbackResult run(Map<String, String> env) throws InterruptedException;
}
