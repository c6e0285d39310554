package io.kontrol.service.nats;

import io.kontrol.service.Fanout;
import io.kontrol.service.ServiceCallback;
import io.kontrol.service.ServiceCallbackCommand;
import java.util.Map;
import java.util.function.Consumer;
import picocli.CommandLine.Command;

/** {@code kontrol callback nats}: {@link NatsCallback} under the service callback contract. */
@Command(
    name = "nats",
    mixinStandardHelpOptions = true,
    description = {
      "Sends every NATS broker of the group a 'configure' transition with the peer list when it"
          + " changed, through the peer API (KONTROL_PORT, KONTROL_TOKEN...), and prints the new"
          + " state."
    })
public final class NatsCallbackCommand extends ServiceCallbackCommand {
  public NatsCallbackCommand(Map<String, String> env) {
    super(env);
  }

  @Override
  protected ServiceCallback callback(Fanout fanout, Consumer<String> log) {
    return new NatsCallback(fanout, log);
  }
}
