package io.kontrol.service.kafka;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The running broker's own dynamic configuration (per broker, {@code incrementalAlterConfigs}). */
public interface LiveConfig extends AutoCloseable {

  /** The keys set dynamically on this broker now, with their values. */
  Map<String, String> dynamic() throws IOException;

  /**
   * Sets {@code set} and deletes {@code delete} dynamically, each key only if the broker accepts
   * it at run time.
   *
   * @return the keys of {@code set} the broker refused to change at run time (read-only: they
   *     take effect at the next start)
   */
  List<String> apply(Map<String, String> set, Set<String> delete) throws IOException;

  @Override
  void close();
}
