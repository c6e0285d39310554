package io.kontrol.service.kafka;

import io.kontrol.agent.identity.Annotations;
import io.kontrol.service.CallbackException;
import io.kontrol.service.Fanout;
import io.kontrol.service.ServiceCallback;
import io.kontrol.service.ServiceCallbackCommand;
import java.util.Map;
import java.util.function.Consumer;
import picocli.CommandLine.Command;

/**
 * {@code kontrol callback kafka}: {@link KafkaCallback} under the service callback contract, with
 * the controller count from the leader's {@code kafka.unity3d.com/controllers} annotation and the
 * quorum through Kafka's Admin API (the kontrol/kafka image has its client library).
 */
@Command(
    name = "kafka",
    mixinStandardHelpOptions = true,
    description = {
      "The Kafka group leader's callback: cluster id, node ids, KRaft controllers and voters; sends"
          + " every pod whose part changed a 'configure' transition through the peer API, and prints"
          + " the new state. Needs Kafka's client library (the kontrol/kafka image has it)."
    })
public final class KafkaCallbackCommand extends ServiceCallbackCommand {
  private final Map<String, String> env;

  public KafkaCallbackCommand(Map<String, String> env) {
    super(env);
    this.env = Map.copyOf(env);
  }

  @Override
  protected ServiceCallback callback(Fanout fanout, Consumer<String> log) {
    return input -> {
      String missing = KafkaClients.missing();
      if (missing != null) {
        throw CallbackException.badInput(missing);
      }
      int q;
      try {
        q = KafkaCallback.controllers(Annotations.current(env));
      } catch (IllegalArgumentException e) {
        throw CallbackException.badInput(e.getMessage());
      }
      return new KafkaCallback(fanout, new AdminQuorum(), q, log).run(input);
    };
  }
}
