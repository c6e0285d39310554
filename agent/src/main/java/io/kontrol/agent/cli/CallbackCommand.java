package io.kontrol.agent.cli;

import io.kontrol.service.haproxy.HaproxyCallbackCommand;
import io.kontrol.service.kafka.KafkaCallbackCommand;
import io.kontrol.service.nats.NatsCallbackCommand;
import picocli.CommandLine.Command;

/**
 * {@code kontrol callback <service>}: the leader callbacks of the service images, run by the agent
 * as {@code KONTROL_CALLBACK}. Each lives in its service's package ({@code io.kontrol.service.*})
 * and keeps the contract of {@link io.kontrol.service.ServiceCallbackCommand}.
 *
 * <p>Exit codes: 0 done, 1 a member did not apply the change, 2 bad input.
 */
@Command(
    name = "callback",
    mixinStandardHelpOptions = true,
    description = "Leader callbacks of the service images (run by the agent with $PODS and $STATE).",
    // one service per line
    subcommands = {
      NatsCallbackCommand.class,
      HaproxyCallbackCommand.class,
      KafkaCallbackCommand.class,
    })
public final class CallbackCommand {}
