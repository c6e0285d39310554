package io.kontrol.service.kafka;

import io.kontrol.agent.identity.Annotations;
import io.kontrol.service.CallbackException;
import io.kontrol.service.Fanout;
import io.kontrol.service.ServiceCallback;
import io.kontrol.service.ServiceCallbackCommand;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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

  @Option(
      names = "--form-wait",
      paramLabel = "SECONDS",
      defaultValue = "30",
      description =
          "at the cluster's creation, how long the leader waits for all its controllers before it"
              + " forms the cluster with those present (default: ${DEFAULT-VALUE}; 0: at once)")
  int formWaitSeconds;

  public KafkaCallbackCommand(Map<String, String> env) {
    super(env);
    this.env = Map.copyOf(env);
  }

  /**
   * Why the leader's rolling restart waits, as {@code kafka.roll} in the leader's own payload
   * ({@code KONTROL_PAYLOAD}: its record shows it to {@code kontrol status}); removed once it does
   * not wait.
   */
  private Consumer<String> rollStatus(Consumer<String> log) {
    String file = env.get("KONTROL_PAYLOAD");
    if (file == null || file.isBlank()) {
      return reason -> {};
    }
    PayloadFile payload = new PayloadFile(Path.of(file));
    return reason -> {
      try {
        payload.update(
            p -> {
              JsonNode k = p.path("kafka");
              if (reason == null) {
                if (k instanceof ObjectNode o) {
                  o.remove("roll");
                }
              } else {
                (k instanceof ObjectNode o ? o : p.putObject("kafka")).put("roll", reason);
              }
            });
      } catch (IOException e) {
        log.accept("cannot publish the roll's status in " + file + ": " + e.getMessage());
      }
    };
  }

  /**
   * The formation wait, its start kept as {@code kafka.forming_since} (epoch ms) in the leader's
   * own payload, so that it spans the runs that fail while it waits; without a payload file, no
   * wait.
   */
  private KafkaCallback.FormationWait formationWait(Consumer<String> log) {
    String file = env.get("KONTROL_PAYLOAD");
    if (file == null || file.isBlank() || formWaitSeconds <= 0) {
      return KafkaCallback.FormationWait.NONE;
    }
    PayloadFile payload = new PayloadFile(Path.of(file));
    Duration bound = Duration.ofSeconds(formWaitSeconds);
    return new KafkaCallback.FormationWait() {
      @Override
      public Duration bound() {
        return bound;
      }

      @Override
      public long since(long nowMs) {
        long[] since = {nowMs};
        try {
          payload.update(
              p -> {
                JsonNode k = p.path("kafka");
                ObjectNode o = k instanceof ObjectNode n ? n : p.putObject("kafka");
                if (o.path("forming_since").isIntegralNumber()) {
                  since[0] = o.get("forming_since").asLong();
                } else {
                  o.put("forming_since", nowMs);
                }
              });
        } catch (IOException e) {
          log.accept("cannot keep the formation wait in " + file + ": " + e.getMessage() + " (forming now)");
          return 0;
        }
        return since[0];
      }

      @Override
      public void done() {
        try {
          payload.update(
              p -> {
                if (p.path("kafka") instanceof ObjectNode o) {
                  o.remove("forming_since");
                }
              });
        } catch (IOException e) {
          log.accept("cannot clear the formation wait in " + file + ": " + e.getMessage());
        }
      }
    };
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
      return new KafkaCallback(fanout, new AdminQuorum(), q, log, RollGate::connect, rollStatus(log), formationWait(log))
          .run(input);
    };
  }
}
