package io.kontrol.service.kafka;

import java.io.IOException;
import java.util.Set;

/**
 * What the group leader's rolling restart asks the brokers before and after each restart: {@link
 * RollGate} through the Admin API in the image.
 */
public interface RollChecks extends AutoCloseable {

  /** @return null when stopping {@code nodeId} is safe now, else why not (partition and ISR) */
  String whyNot(int nodeId) throws IOException;

  /** @return null when {@code nodeId} is in the ISR of every partition it hosts, else what lacks it */
  String outOfSync(int nodeId) throws IOException;

  /** The ids of the brokers the cluster lists (unfenced ones). */
  Set<Integer> brokers() throws IOException;

  @Override
  void close();
}
