package io.kontrol.agent.config;

import java.util.Locale;

/** The tokens of {@code KONTROL_MODE}. */
public enum Mode {
  /** Register this pod under each master group it reports to. */
  SLAVE,
  /** Campaign for the leadership of this pod's own group; the leader runs the callback. */
  MASTER,
  /** Master + slave against a local etcd, as the original's {@code -d}. */
  DEBUG,
  /** Debug-level logs. */
  VERBOSE;

  static Mode parse(String token) {
    try {
      return valueOf(token.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          AgentConfig.KONTROL_MODE,
          "unknown mode \"" + token.trim() + "\" (expected slave, master, debug or verbose)");
    }
  }
}
