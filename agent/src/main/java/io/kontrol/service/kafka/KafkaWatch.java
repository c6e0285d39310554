package io.kontrol.service.kafka;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The broker's health as the pod's sidecar sees it, one {@link #tick} at a time.
 *
 * <ul>
 *   <li>A JVM that exits is supervisord's: it starts it again at once ({@code autorestart}); the
 *       watch sees the new pid and counts the restart.
 *   <li>A JVM that runs but no longer answers its local JMX probe for {@code unresponsive} (a
 *       stopped or hung process: it ignores SIGTERM) is sent SIGKILL through supervisord, which
 *       starts it again. Same for a broker stuck in a state other than RUNNING for {@code
 *       stuck} — except RECOVERY: a broker recovering its logs is never touched, however long.
 *   <li>A fresh JVM gets {@code grace} before a silent JMX counts (it opens the port as it boots),
 *       until it has answered once: a JVM that answered and then falls silent is killed after
 *       {@code unresponsive}, however young.
 * </ul>
 *
 * The count and the last reason go to the payload ({@code kafka.restarts}, {@code
 * kafka.last_restart}), kept across pod restarts with the volume; a JVM that the leader's rolling
 * restart ended ({@code kafka.rolled_pid}, see {@link KafkaRestart}) counts as rolled. Not thread-safe: one thread
 * ticks.
 */
public final class KafkaWatch {

  /** supervisord's view of the broker program. */
  public record Program(String state, long pid, long uptimeSeconds) {
    private static final Pattern LINE = Pattern.compile("^\\S+\\s+(\\S+)(?:\\s+pid (\\d+), uptime (?:(\\d+) days?, )?(\\d+):(\\d+):(\\d+))?");

    /** Parses one {@code supervisorctl status kafka} line. */
    public static Program parse(String line) {
      Matcher m = LINE.matcher(line.strip());
      if (!m.find()) {
        return new Program("UNKNOWN", 0, 0);
      }
      if (m.group(2) == null) {
        return new Program(m.group(1), 0, 0);
      }
      long days = m.group(3) == null ? 0 : Long.parseLong(m.group(3));
      long up = days * 86400 + Long.parseLong(m.group(4)) * 3600 + Long.parseLong(m.group(5)) * 60 + Long.parseLong(m.group(6));
      return new Program(m.group(1), Long.parseLong(m.group(2)), up);
    }

    boolean running() {
      return "RUNNING".equals(state);
    }
  }

  /** The broker program's controls. */
  public interface Supervisor {
    Program status() throws IOException;

    /** SIGKILL to the broker; supervisord starts it again. */
    void kill() throws IOException;
  }

  private final Supervisor supervisor;
  private final Supplier<BrokerProbe.Result> probe;
  private final PayloadFile payload;
  private final Consumer<String> log;
  private final Duration grace;
  private final Duration unresponsive;
  private final Duration stuck;

  private long lastPid;
  private boolean killed;
  private long silentSince = -1;
  private long notRunningSince = -1;
  private int lastState = -1;

  public KafkaWatch(
      Supervisor supervisor,
      Supplier<BrokerProbe.Result> probe,
      PayloadFile payload,
      Consumer<String> log,
      Duration grace,
      Duration unresponsive,
      Duration stuck) {
    this.supervisor = Objects.requireNonNull(supervisor);
    this.probe = Objects.requireNonNull(probe);
    this.payload = Objects.requireNonNull(payload);
    this.log = Objects.requireNonNull(log);
    this.grace = grace;
    this.unresponsive = unresponsive;
    this.stuck = stuck;
  }

  /** One check at {@code nowMs} (a monotonic clock in milliseconds). */
  public void tick(long nowMs) throws IOException {
    Program p = supervisor.status();
    if (!p.running()) {
      silentSince = -1;
      notRunningSince = -1;
      return;
    }
    if (lastPid != 0 && p.pid() != lastPid) {
      if (killed) {
        log.accept("kafka watch: broker started again (pid " + p.pid() + ")");
      } else if (payload.read().path("kafka").path("rolled_pid").asLong(0) == lastPid) {
        count("rolled: the group's leader restarted it (pid " + lastPid + " -> " + p.pid() + ")");
      } else {
        count("exited; supervisord started it again (pid " + lastPid + " -> " + p.pid() + ")");
      }
      silentSince = -1;
      notRunningSince = -1;
      lastState = -1;
    }
    killed = false;
    lastPid = p.pid();

    BrokerProbe.Result r = probe.get();
    if (!r.answered()) {
      if (lastState < 0 && p.uptimeSeconds() < grace.toSeconds()) {
        // booting: it has not answered yet
        return;
      }
      if (silentSince < 0) {
        silentSince = nowMs;
        log.accept("kafka watch: broker pid " + p.pid() + " does not answer (" + r.failure() + ")");
      } else if (nowMs - silentSince >= unresponsive.toMillis()) {
        kill("no answer for " + (nowMs - silentSince) / 1000 + " s (" + r.failure() + ")");
      }
      return;
    }
    silentSince = -1;
    int state = r.state();
    if (state != lastState) {
      log.accept("kafka watch: broker pid " + p.pid() + " is " + BrokerProbe.stateName(state));
      lastState = state;
    }
    if (state == BrokerProbe.RUNNING || state == BrokerProbe.RECOVERY) {
      // a broker recovering its logs is left alone however long it takes
      notRunningSince = -1;
      return;
    }
    if (notRunningSince < 0) {
      notRunningSince = nowMs;
    } else if (nowMs - notRunningSince >= stuck.toMillis()) {
      kill(BrokerProbe.stateName(state) + " for " + (nowMs - notRunningSince) / 1000 + " s");
    }
  }

  private void kill(String reason) throws IOException {
    log.accept("kafka watch: killing the broker (pid " + lastPid + "): " + reason);
    supervisor.kill();
    killed = true;
    silentSince = -1;
    notRunningSince = -1;
    count("killed: " + reason);
  }

  private void count(String reason) throws IOException {
    payload.update(
        p -> {
          ObjectNode k = p.has("kafka") && p.get("kafka").isObject() ? (ObjectNode) p.get("kafka") : p.putObject("kafka");
          int n = k.path("restarts").asInt(0) + 1;
          k.put("restarts", n);
          k.put("last_restart", reason);
          log.accept("kafka watch: restart " + n + ": " + reason);
        });
  }
}
