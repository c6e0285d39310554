package io.kontrol.automaton.cli;

import io.kontrol.automaton.logging.LogFormat;
import io.kontrol.automaton.machine.Machine;
import io.kontrol.automaton.machine.MachineSettings;
import io.kontrol.automaton.manifest.Manifest;
import io.kontrol.automaton.manifest.ManifestException;
import io.kontrol.automaton.manifest.ManifestLoader;
import io.kontrol.automaton.manifest.Problem;
import io.kontrol.automaton.process.Signals;
import io.kontrol.automaton.socket.Dispatcher;
import io.kontrol.automaton.socket.SocketFiles;
import io.kontrol.automaton.socket.SocketServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * {@code automaton MANIFEST [-s SOCKET] [-l LOGFILE] [-d]} runs the state machine, exactly as the
 * original was invoked ({@code /usr/bin/automaton /home/kontrol/lifecycle.yml -d -s /tmp/sock});
 * {@code automaton send} and {@code automaton check} are the client and the validator.
 *
 * <p>Exit codes: 0 after an orderly end (DIE, SIGTERM, SIGINT); 1 when the manifest is invalid or
 * the socket cannot be used; 2 on a usage error.
 */
@Command(
    name = "automaton",
    mixinStandardHelpOptions = true,
    versionProvider = Version.class,
    subcommands = {SendCommand.class, CheckCommand.class},
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Runs a finite state machine defined in a YAML manifest, driven over a unix socket;"
          + " each state runs a shell script.",
      "",
      "Protocol (one line per connection): STATE | GOTO <state> [input] | WAIT <state> [input]"
          + " | SET <KEY> <value> | DIE.",
      ""
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:orderly end (DIE, SIGTERM, SIGINT)",
      "1:invalid manifest, socket in use or unusable",
      "2:usage error"
    })
public final class AutomatonCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", arity = "0..1", paramLabel = "MANIFEST", description = "the YAML manifest")
  Path manifest;

  @Option(names = {"-s", "--socket"}, paramLabel = "SOCKET", defaultValue = "/var/run/automaton.sock",
      description = "unix socket to listen on (default: ${DEFAULT-VALUE})")
  Path socket;

  @Option(names = {"-l", "--log"}, paramLabel = "LOGFILE", defaultValue = "automaton.log",
      description = "rotating log file, '-' for stdout only (default: ${DEFAULT-VALUE}); stdout always gets the log")
  String logFile;

  @Option(names = {"-d", "--debug"}, description = "debug logging")
  boolean debug;

  @Option(names = "--socket-mode", paramLabel = "MODE", defaultValue = "0660",
      description = "permissions of the socket file, octal (default: ${DEFAULT-VALUE})")
  String socketMode;

  @Option(names = "--settle", paramLabel = "SECONDS", defaultValue = "1",
      description = "delay before a newer transition preempts a running script (default: ${DEFAULT-VALUE})")
  double settle;

  @Option(names = "--kill-grace", paramLabel = "SECONDS", defaultValue = "5",
      description = "between SIGTERM and SIGKILL to a script's process group (default: ${DEFAULT-VALUE})")
  double killGrace;

  @Option(names = "--terminal-timeout", paramLabel = "SECONDS", defaultValue = "50",
      description = "bound on the terminal script at shutdown (default: ${DEFAULT-VALUE})")
  double terminalTimeout;

  @Option(names = "--read-timeout", paramLabel = "SECONDS", defaultValue = "10",
      description = "a client must send its line within this time (default: ${DEFAULT-VALUE})")
  double readTimeout;

  @Option(names = "--max-clients", paramLabel = "N", defaultValue = "1024",
      description = "connections served at once; more are answered KO (default: ${DEFAULT-VALUE})")
  int maxClients;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The configured command line (also used by tests). */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new AutomatonCommand());
    // after COMMAND, every word is input (JSON may start with '-'): no option parsing
    cl.getSubcommands().get("send").setStopAtPositional(true);
    cl.setExecutionExceptionHandler((e, line, parsed) -> {
      line.getErr().println("automaton: " + e.getMessage());
      return 1;
    });
    return cl;
  }

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    if (manifest == null) {
      throw new CommandLine.ParameterException(spec.commandLine(), "Missing required parameter: 'MANIFEST'");
    }
    MachineSettings settings;
    SocketServer.Settings socketSettings;
    try {
      settings = MachineSettings.newBuilder()
          .settle(seconds(settle, "--settle"))
          .killGrace(seconds(killGrace, "--kill-grace"))
          .terminalTimeout(seconds(terminalTimeout, "--terminal-timeout"))
          .build();
      socketSettings = new SocketServer.Settings(seconds(readTimeout, "--read-timeout"), maxClients,
          SocketFiles.parseMode(socketMode));
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }

    Manifest m;
    try {
      m = ManifestLoader.load(manifest);
    } catch (ManifestException e) {
      for (Problem p : e.problems()) {
        err.println(p);
      }
      err.println("automaton: invalid manifest, not starting");
      err.flush();
      return 1;
    }

    LogFormat format;
    try {
      format = LogFormat.fromEnv(System.getenv());
    } catch (IllegalArgumentException e) {
      err.println("automaton: " + e.getMessage());
      err.flush();
      return 2;
    }
    String logProblem = Logging.configure(logFile, debug, format);
    Logger log = LoggerFactory.getLogger("automaton");
    if (logProblem != null) {
      log.warn(logProblem);
    }
    if (!java.nio.charset.Charset.defaultCharset().equals(java.nio.charset.StandardCharsets.UTF_8)) {
      log.warn("default charset is {}: non-ASCII $INPUT and SET values reach scripts as '?'; run with -Dfile.encoding=UTF-8"
          + " (the automaton launcher does)", java.nio.charset.Charset.defaultCharset());
    }
    for (Problem w : m.warnings()) {
      log.warn("{}: warning: {}", w.file() + ":" + w.line() + ":" + w.column(), w.reason());
    }
    log.info("automaton {} starting: manifest {}, {} states, socket {}, pid {}",
        Version.string(), manifest, m.states().size(), socket.toAbsolutePath(), ProcessHandle.current().pid());

    Machine machine = new Machine(m, settings, socket);
    java.util.concurrent.atomic.AtomicBoolean socketFailed = new java.util.concurrent.atomic.AtomicBoolean();
    SocketServer server = new SocketServer(socket, socketSettings, new Dispatcher(machine), () -> {
      // unreachable: end (terminal state included) and exit 1 so that the supervisor restarts us
      socketFailed.set(true);
      machine.shutdown("socket failure", true);
    });
    Thread hook = new Thread(() -> {
      // last resort (e.g. SIGHUP's default exit): never leave a socket file nor a script behind
      server.close();
      machine.close();
    }, "automaton-exit");
    try {
      try {
        server.bind();
      } catch (SocketServer.InUseException e) {
        log.error("{}: not starting", e.getMessage());
        return 1;
      } catch (IOException e) {
        log.error("cannot listen on {}: {}", socket, e.getMessage());
        return 1;
      }
      Runtime.getRuntime().addShutdownHook(hook);
      Signals.onTermination(signal -> {
        log.info("received SIG{}", signal);
        machine.shutdown("SIG" + signal, true);
      });
      machine.start();
      server.start();
      machine.terminated().join();
      log.info("exiting");
      return socketFailed.get() ? 1 : 0;
    } finally {
      server.close();
      machine.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down
      }
      Logging.stop();
    }
  }

  private static Duration seconds(double s, String option) {
    if (!(s >= 0) || s > 86_400) {
      throw new IllegalArgumentException(option + " must be between 0 and 86400 seconds, got " + s);
    }
    return Duration.ofNanos((long) (s * 1e9));
  }
}
