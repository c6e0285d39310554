package io.kontrol.agent.supervisor;

import java.io.Closeable;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * supervisord in the foreground ({@code supervisord -n -c CONF}) as a child of {@code kontrol
 * boot}, its output on ours. The programs (the automaton, the agent, the service) come from
 * every {@code *.conf} of a directory.
 *
 * <p>Stopping: {@link #terminate()} sends SIGTERM, on which supervisord stops every program with
 * its own stop signal (the automaton then runs its terminal state, the agent deregisters) and
 * exits. {@link #close()} does that and waits, bounded, then kills.
 */
public final class Supervisord implements Closeable {

  private static final Logger LOG = LoggerFactory.getLogger(Supervisord.class);

  /** Longer than any program's stopwaitsecs (the automaton's terminal state gets 60 s). */
  static final long STOP_WAIT_SECONDS = 90;

  static final long NUDGE_MILLIS = 2_000;

  private final Process process;

  private Supervisord(Process process) {
    this.process = process;
  }

  /**
   * Writes a main configuration into {@code dir}: supervisord in the foreground, its control
   * socket in {@code dir}, and {@code programs/*.conf} included.
   */
  public static Path writeConfig(Path dir, Path programs) throws IOException {
    Files.createDirectories(dir);
    Path conf = dir.resolve("supervisord.conf");
    String sock = dir.resolve("supervisor.sock").toAbsolutePath().toString();
    String text = String.join("\n",
        "; written by kontrol boot",
        "[unix_http_server]",
        "file=" + sock,
        "chmod=0700",
        "",
        "[supervisord]",
        "nodaemon=true",
        "pidfile=" + dir.resolve("supervisord.pid").toAbsolutePath(),
        "logfile=/dev/null",
        "logfile_maxbytes=0",
        "childlogdir=" + dir.toAbsolutePath(),
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        "serverurl=unix://" + sock,
        "",
        "[include]",
        "files = " + programs.toAbsolutePath() + "/*.conf",
        "");
    Files.writeString(conf, text, StandardCharsets.UTF_8);
    return conf;
  }

  /**
   * Starts supervisord with {@code env} as its whole environment (and so its programs').
   *
   * @throws IOException when supervisord cannot be started (not installed)
   */
  public static Supervisord start(Path conf, Map<String, String> env) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(List.of("supervisord", "-n", "-c", conf.toString())).inheritIO();
    pb.environment().clear();
    pb.environment().putAll(env);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new IOException("cannot start supervisord (is it installed?): " + e.getMessage(), e);
    }
    LOG.info("supervisord started pid={} conf={}", p.pid(), conf);
    Supervisord s = new Supervisord(p);
    controlSocket(conf).ifPresent(s::nudge);
    return s;
  }

  /** The {@code file=} of the {@code [unix_http_server]} section, if the configuration has one. */
  static Optional<Path> controlSocket(Path conf) {
    try {
      boolean inSection = false;
      for (String line : Files.readAllLines(conf, StandardCharsets.UTF_8)) {
        String l = line.trim();
        if (l.startsWith("[")) {
          inSection = l.equals("[unix_http_server]");
        } else if (inSection && l.startsWith("file") && l.contains("=")) {
          return Optional.of(Path.of(l.substring(l.indexOf('=') + 1).trim()));
        }
      }
    } catch (IOException e) {
      LOG.debug("cannot read {}: {}", conf, e.getMessage());
    }
    return Optional.empty();
  }

  /**
   * supervisord spawns its programs only after its event loop's first wait, which lasts a second
   * unless something arrives: one connection to its control socket as soon as it listens cuts
   * that second from every boot. Bounded to {@value #NUDGE_MILLIS} ms; failing changes nothing.
   */
  private void nudge(Path socket) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(NUDGE_MILLIS);
    while (System.nanoTime() < deadline && process.isAlive()) {
      try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        return;
      } catch (IOException e) {
        try {
          Thread.sleep(10); // supervisord is not listening yet: it has no event to wait on
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** Asks supervisord to stop its programs and exit (SIGTERM). */
  public void terminate() {
    if (process.isAlive()) {
      LOG.info("stopping supervisord pid={}", process.pid());
      process.destroy();
    }
  }

  /** Waits for supervisord to exit; its exit code. */
  public int waitFor() throws InterruptedException {
    return process.waitFor();
  }

  /** Terminates and waits up to {@value #STOP_WAIT_SECONDS} s, then kills. */
  @Override
  public void close() {
    if (!process.isAlive()) {
      return;
    }
    terminate();
    try {
      if (!process.waitFor(STOP_WAIT_SECONDS, TimeUnit.SECONDS)) {
        LOG.warn("supervisord pid={} still running after {} s: killing it", process.pid(), STOP_WAIT_SECONDS);
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
