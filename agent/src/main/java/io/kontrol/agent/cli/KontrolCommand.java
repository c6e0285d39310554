package io.kontrol.agent.cli;

import io.kontrol.automaton.logging.LogFormat;
import io.kontrol.service.kafka.KafkaCommand;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine;

/**
 * {@code kontrol}: with no subcommand (or {@code -d}) it runs the agent, as the original did;
 * {@code kontrol run} is the explicit form. Exit codes: 0 ok, 1 failure, 2 bad usage or settings.
 */
@Command(
    name = "kontrol",
    mixinStandardHelpOptions = true,
    description = "kontrol: pod registration, one leader per group, and a callback on change.",
    // one subcommand per line: add yours with a one-line edit
    subcommands = {
      RunCommand.class,
      RenderCommand.class,
      PeerCommand.class,
      StatusCommand.class,
      IdentityCommand.class,
      BootCommand.class,
      CallbackCommand.class,
      HaproxyCommand.class,
      KafkaCommand.class,
    })
public final class KontrolCommand implements Callable<Integer> {
  private final Map<String, String> env;

  @Mixin AgentOptions options;

  public KontrolCommand() {
    this(System.getenv());
  }

  /** With an injected environment, for tests. */
  public KontrolCommand(Map<String, String> env) {
    this.env = Map.copyOf(env);
  }

  /** The environment the agent is configured from. */
  public Map<String, String> env() {
    return env;
  }

  @Override
  public Integer call() throws InterruptedException {
    return RunCommand.runAgent(options.config(io.kontrol.agent.identity.PodInfo.environment(env)));
  }

  /**
   * The command line with kontrol's exit-code mapping ({@link ExitCodes}): a bad setting prints
   * one line, exit 2.
   * Subcommands with a constructor taking the environment get {@code top}'s.
   */
  public static CommandLine commandLine(KontrolCommand top) {
    CommandLine.IFactory defaults = CommandLine.defaultFactory();
    CommandLine.IFactory withEnv =
        new CommandLine.IFactory() {
          @Override
          public <K> K create(Class<K> cls) throws Exception {
            try {
              return cls.getConstructor(Map.class).newInstance(top.env());
            } catch (NoSuchMethodException e) {
              return defaults.create(cls);
            }
          }
        };
    CommandLine cl = new CommandLine(top, withEnv);
    cl.setExecutionExceptionHandler(new ExitCodes());
    return cl;
  }

  public static void main(String[] args) {
    try {
      LogFormat.fromEnv(System.getenv()).install();
    } catch (IllegalArgumentException e) {
      System.err.println("kontrol: " + e.getMessage());
      System.exit(2);
    }
    System.exit(commandLine(new KontrolCommand()).execute(args));
  }
}
