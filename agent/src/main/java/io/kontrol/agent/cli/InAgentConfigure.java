package io.kontrol.agent.cli;

import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.config.Env;
import io.kontrol.automaton.socket.Handler;
import io.kontrol.automaton.socket.SocketServer;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's {@code configure} state run inside the agent: the lifecycle's {@code configure} state
 * ({@code /opt/kontrol/bin/configure-in-agent}, images/base/configure-in-agent) hands {@code
 * $INPUT} to this socket instead of starting {@code kontrol <service> configure} in a new JVM,
 * which costs about 2.5 s a time on a loaded node. The automaton still runs the state (one at a
 * time, a newer one waiting for the running one), so every path to it (the leader's peer API
 * call, a changed template, an operator's {@code WAIT configure}) takes the same way.
 *
 * <p>Turned on by {@code KONTROL_CONFIGURE}, the command to run: one of kontrol's own ({@link
 * BuiltinCommand}), {@code kontrol haproxy configure [options]} (the HAProxy image) or {@code
 * kontrol nats configure [options]} (the NATS image); the socket is {@code
 * KONTROL_CONFIGURE_SOCKET} (default {@value #DEFAULT_SOCKET}, mode 0600: the automaton runs as
 * the agent's user).
 *
 * <p>Protocol: one line, the input (JSON, one line, as the automaton's {@code $INPUT}); one reply,
 * the exit code on its first line ({@value #TIMED_OUT} when the run did not end within {@link
 * #TIMEOUT}), then what the command printed on stdout and stderr. The command runs on its own
 * thread ({@code kontrol-haproxy-configure}, {@code kontrol-nats-configure}), one run at a time,
 * with the agent's environment (annotations from {@code KONTROL_ANNOTATIONS_FILE}, which the agent
 * keeps current) and {@code INPUT}; the socket's thread only hands it over. Its outcome goes to
 * the payload and the log exactly as from the command run by hand.
 */
public final class InAgentConfigure implements Closeable {

  private static final Logger LOG = LoggerFactory.getLogger(InAgentConfigure.class);

  public static final String COMMAND_VARIABLE = "KONTROL_CONFIGURE";
  public static final String SOCKET_VARIABLE = "KONTROL_CONFIGURE_SOCKET";
  public static final String DEFAULT_SOCKET = "/tmp/kontrol-configure.sock";
  /** The exit code replied for a run that did not end in time (as timeout(1) exits). */
  public static final int TIMED_OUT = 124;
  /**
   * The longest a run is waited for: the commands' own waits are 10 s for {@code haproxy -c}, 20 s
   * for a reload or a start to be confirmed, 30 s for {@code nats-server -t} and 60 s for {@code
   * supervisorctl start}.
   */
  static final Duration TIMEOUT = Duration.ofSeconds(90);

  private static final int MAX_OUTPUT = 64 * 1024;

  /** The {@code configure} commands the agent runs for a state. */
  static final List<List<String>> CONFIGURE = List.of(List.of("haproxy", "configure"), List.of("nats", "configure"));

  private final BuiltinCommand command;
  private final String name;
  private final SocketServer server;
  private final Map<String, String> env;

  private InAgentConfigure(BuiltinCommand command, String name, Path socket, Map<String, String> env) {
    this.command = command;
    this.name = name;
    this.env = Map.copyOf(env);
    this.server =
        new SocketServer(
            socket,
            new SocketServer.Settings(Duration.ofSeconds(5), 16, Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE)),
            this::handle);
  }

  /**
   * Listens on the socket when {@code KONTROL_CONFIGURE} is set; empty when it is not.
   *
   * @param env the agent's environment, given to every run
   * @throws ConfigException when {@code KONTROL_CONFIGURE} is not one of kontrol's own commands
   * @throws IOException when the socket cannot be made (another agent listens on it)
   */
  public static Optional<InAgentConfigure> start(Map<String, String> env) throws IOException {
    Env vars = Env.of(env);
    Optional<String> configured = vars.string(COMMAND_VARIABLE);
    if (configured.isEmpty()) {
      return Optional.empty();
    }
    Optional<List<String>> args = BuiltinCommand.parse(configured.get()).map(a -> a.subList(0, 2)).filter(CONFIGURE::contains);
    if (args.isEmpty()) {
      throw new ConfigException(COMMAND_VARIABLE,
          "must be 'kontrol haproxy configure [options]' or 'kontrol nats configure [options]' (run inside the agent), not '"
              + configured.get() + "'");
    }
    BuiltinCommand command = BuiltinCommand.of(configured.get()).orElseThrow();
    Path socket = vars.path(SOCKET_VARIABLE).orElse(Path.of(DEFAULT_SOCKET));
    InAgentConfigure c = new InAgentConfigure(command, "kontrol " + String.join(" ", args.get()), socket, env);
    try {
      c.server.bind();
    } catch (IOException | RuntimeException e) {
      command.close();
      throw e;
    }
    c.server.start();
    LOG.info("configure runs inside the agent: '{}' on {}", configured.get(), socket);
    return Optional.of(c);
  }

  /** The socket's path. */
  public Path socket() {
    return server.path();
  }

  /** On the socket's thread: hands the input to the command's thread; never blocks. */
  private void handle(String line, Handler.Reply reply) {
    if (line == null || line.isBlank()) {
      reply.send("2\n" + name + ": no input (expected the leader's JSON on one line); nothing changed");
      return;
    }
    Map<String, String> e = new HashMap<>(env);
    e.put("INPUT", line);
    command
        .submit(e, TIMEOUT, MAX_OUTPUT, MAX_OUTPUT)
        .thenAccept(
            r -> {
              int code = r.timedOut() ? TIMED_OUT : r.exitCode();
              LOG.info("'{}' ran in the agent exit={} took={}ms{}", name, code, r.took().toMillis(),
                  r.timedOut() ? " (timed out, interrupted)" : "");
              StringBuilder text = new StringBuilder().append(code).append('\n').append(r.stdout());
              if (!r.stderr().isEmpty()) {
                text.append(r.stderr());
              }
              if (r.timedOut()) {
                text.append(name).append(": did not end within ").append(TIMEOUT.toSeconds()).append(" s in the agent\n");
              }
              reply.send(text.toString().stripTrailing());
            });
  }

  /** Stops listening, then the command's thread (a run under way is interrupted); bounded. */
  @Override
  public void close() {
    try {
      server.close();
    } finally {
      command.close();
    }
  }
}
