package io.kontrol.agent.cli;

import io.kontrol.service.haproxy.ConfigureCommand;
import picocli.CommandLine.Command;

/** {@code kontrol haproxy ...}: the HAProxy image's lifecycle commands. */
@Command(
    name = "haproxy",
    mixinStandardHelpOptions = true,
    description = "The HAProxy pod's lifecycle commands (run by its automaton states).",
    subcommands = {
      ConfigureCommand.class,
    })
public final class HaproxyCommand {}
