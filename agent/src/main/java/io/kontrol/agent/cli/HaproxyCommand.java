package io.kontrol.agent.cli;

import io.kontrol.service.haproxy.HaproxyConfigureCommand;
import picocli.CommandLine.Command;

/** {@code kontrol haproxy ...}: the HAProxy image's lifecycle commands. */
@Command(
    name = "haproxy",
    mixinStandardHelpOptions = true,
    description = "The HAProxy pod's lifecycle commands (run by its automaton states).",
    subcommands = {
      HaproxyConfigureCommand.class,
    })
public final class HaproxyCommand {}
