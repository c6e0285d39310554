package io.kontrol.agent.cli;

import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The images' {@code configure} state (images/base/configure-in-agent) as the automaton runs it:
 * {@code $INPUT} and {@code KONTROL_CONFIGURE} in its environment, and no kontrol on its {@code
 * PATH}, so a run that did not go through the agent's socket fails (exit 127).
 */
public final class ConfigureState {

  public static final Path SCRIPT = Path.of("..", "images", "base", "configure-in-agent").toAbsolutePath().normalize();

  private ConfigureState() {}

  public static ShellCommand.Result run(String command, Path socket, String input) throws Exception {
    return ShellCommand.of("exec sh " + SCRIPT)
        .environment(Map.of(
            "INPUT", input,
            InAgentConfigure.COMMAND_VARIABLE, command,
            InAgentConfigure.SOCKET_VARIABLE, socket.toString(),
            "PATH", "/usr/bin:/bin"))
        .mergeOutput()
        .run(Duration.ofSeconds(90), Capture.head(64 * 1024), Capture.none());
  }
}
