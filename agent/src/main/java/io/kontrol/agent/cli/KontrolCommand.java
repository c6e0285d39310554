package io.kontrol.agent.cli;

import io.kontrol.automaton.logging.LogFormat;
import io.kontrol.service.kafka.KafkaCommand;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
    description = "kontrol: pod registration, one leader per group, and a callback on change.")
public final class KontrolCommand implements Callable<Integer> {
  /** The subcommands, in the order of the help: one per line, add yours with a one-line edit. */
  static final List<Class<?>> SUBCOMMANDS =
      List.of(
          RunCommand.class,
          RenderCommand.class,
          PeerCommand.class,
          StatusCommand.class,
          ConfigCommand.class,
          IdentityCommand.class,
          BootCommand.class,
          CallbackCommand.class,
          HaproxyCommand.class,
          NatsCommand.class,
          KafkaCommand.class);

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
    return commandLine(top, SUBCOMMANDS);
  }

  /**
   * The command line for {@code args}: when they name a subcommand, one that knows only that one,
   * so that a process builds the model of the command it runs and not of all the others (picocli
   * reads every option of every subcommand by reflection: about a quarter of a second of CPU at the
   * start of the agent, of {@code kontrol boot} and of each {@code kontrol render}); the whole one
   * when they name none ({@code kontrol}, {@code kontrol --help}) or do not parse that way (a name
   * that was an option's value, a typo), so that parsing, help and errors are exactly the whole
   * one's.
   */
  static CommandLine forArgs(KontrolCommand top, String... args) {
    Optional<Class<?>> named = named(args);
    if (named.isPresent()) {
      CommandLine one = commandLine(top, List.of(named.get()));
      try {
        one.parseArgs(args);
        return one;
      } catch (CommandLine.ParameterException e) {
        // the whole command line parses them, or says what is wrong
      }
    }
    return commandLine(top);
  }

  /** The subcommand that the first argument equal to a subcommand's name names. */
  static Optional<Class<?>> named(String... args) {
    for (String a : args) {
      for (Class<?> c : SUBCOMMANDS) {
        if (c.getAnnotation(Command.class).name().equals(a)) {
          return Optional.of(c);
        }
      }
    }
    return Optional.empty();
  }

  private static CommandLine commandLine(KontrolCommand top, List<Class<?>> subcommands) {
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
    for (Class<?> c : subcommands) {
      cl.addSubcommand(c);
    }
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
    System.exit(forArgs(new KontrolCommand(), args).execute(args));
  }
}
