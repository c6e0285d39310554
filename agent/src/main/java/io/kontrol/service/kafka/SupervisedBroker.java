package io.kontrol.service.kafka;

import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The broker as the kontrol/kafka image runs it: supervisord's {@code kafka} program, driven with
 * {@code supervisorctl}, and {@code kafka-storage.sh} for formatting. Every command is bounded.
 */
public final class SupervisedBroker implements KafkaConfigure.Broker, KafkaWatch.Supervisor, KafkaRestart.Program {

  /** supervisord's program name. */
  public static final String PROGRAM = "kafka";

  private static final Duration CTL_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration FORMAT_TIMEOUT = Duration.ofSeconds(120);
  /** The program's stopwaitsecs (180), its startsecs and some slack. */
  private static final Duration RESTART_TIMEOUT = Duration.ofSeconds(200);

  private final String storageTool;

  public SupervisedBroker(String storageTool) {
    this.storageTool = storageTool;
  }

  @Override
  public boolean running() throws IOException {
    String out = statusLine();
    return out.contains("RUNNING") || out.contains("STARTING") || out.contains("BACKOFF");
  }

  @Override
  public KafkaWatch.Program status() throws IOException {
    return KafkaWatch.Program.parse(statusLine());
  }

  /** The {@code supervisorctl status kafka} line. */
  public String statusLine() throws IOException {
    // `supervisorctl status` exits non-zero for a stopped program: read the state word instead
    return run(List.of("supervisorctl", "status", PROGRAM), CTL_TIMEOUT, false).output();
  }

  @Override
  public void start() throws IOException {
    Result r = run(List.of("supervisorctl", "start", PROGRAM), CTL_TIMEOUT, false);
    // "already started" is fine: someone else started it between running() and here
    if (r.code() != 0 && !r.output().contains("already started")) {
      throw new IOException("supervisorctl start " + PROGRAM + " failed: " + r.output().strip());
    }
  }

  @Override
  public LiveConfig live(int nodeId) throws IOException {
    String missing = KafkaClients.missing();
    if (missing != null) {
      throw new IOException(missing);
    }
    return new AdminLiveConfig("localhost:" + BrokerConfig.BROKER_PORT, nodeId);
  }

  /**
   * Stops the broker (SIGTERM: a controlled shutdown, at most the program's stopwaitsecs) and
   * starts it again; returns once supervisord counts it started.
   */
  @Override
  public void restart() throws IOException {
    run(List.of("supervisorctl", "restart", PROGRAM), RESTART_TIMEOUT, true);
  }

  /** Sends the broker JVM SIGKILL (supervisord restarts it: autorestart). */
  @Override
  public void kill() throws IOException {
    run(List.of("supervisorctl", "signal", "KILL", PROGRAM), CTL_TIMEOUT, true);
  }

  @Override
  public void format(List<String> args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(storageTool, "format"));
    cmd.addAll(args);
    run(cmd, FORMAT_TIMEOUT, true);
  }

  record Result(int code, String output) {}

  /** Runs {@code cmd} (no shell words: each element one argument) with the project's runner. */
  static Result run(List<String> cmd, Duration timeout, boolean mustSucceed) throws IOException {
    ShellCommand.Result r;
    try {
      r = ShellCommand.of("exec \"$0\" \"$@\"")
          .args(cmd.toArray(String[]::new))
          .mergeOutput()
          .run(timeout, Capture.tail(4000), Capture.none());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running " + cmd.get(0));
    }
    String text = r.stdout().text();
    if (r.timedOut()) {
      throw new IOException(String.join(" ", cmd) + " did not finish within " + timeout.toSeconds() + " s");
    }
    if (mustSucceed && r.exitCode() != 0) {
      throw new IOException(String.join(" ", cmd) + " exited " + r.exitCode() + ": " + text.strip());
    }
    return new Result(r.exitCode(), text);
  }
}
