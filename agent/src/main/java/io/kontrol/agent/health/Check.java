package io.kontrol.agent.health;

/** One health check's result: its name, whether it passes, and why not. */
public record Check(String name, boolean ok, String reason) {

  public static Check pass(String name) {
    return new Check(name, true, "");
  }

  public static Check fail(String name, String reason) {
    return new Check(name, false, reason);
  }
}
