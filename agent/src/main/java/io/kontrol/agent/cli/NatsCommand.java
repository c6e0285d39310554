package io.kontrol.agent.cli;

import io.kontrol.service.nats.NatsConfigureCommand;
import picocli.CommandLine.Command;

/** {@code kontrol nats ...}: the NATS image's lifecycle commands. */
@Command(
    name = "nats",
    mixinStandardHelpOptions = true,
    description = "The NATS pod's lifecycle commands (run by its automaton states).",
    subcommands = {
      NatsConfigureCommand.class,
    })
public final class NatsCommand {}
