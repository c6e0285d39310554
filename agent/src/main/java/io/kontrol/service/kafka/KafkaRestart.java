package io.kontrol.service.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The Kafka pod's {@code restart} state, which the group's leader sends during a rolling restart
 * (after its gate allowed it): the broker is stopped with a controlled shutdown and started again
 * with the {@code server.properties} that configure last wrote, and the state ends once the new
 * JVM is RUNNING. Once the new JVM is started, nothing waits for a restart any more ({@code
 * kafka.restart_pending} goes);
 * the ended JVM's pid is left as {@code kafka.rolled_pid} so that the watch counts this restart
 * as a roll, not as a crash.
 */
public final class KafkaRestart {

  /** The broker program's controls. */
  public interface Program {
    KafkaWatch.Program status() throws IOException;

    /** Stops the broker (controlled shutdown) and starts it again; returns once it is started. */
    void restart() throws IOException;
  }

  private final Program program;
  private final Supplier<BrokerProbe.Result> probe;
  private final PayloadFile payload;
  private final Consumer<String> log;
  private final Duration running;
  private final Duration poll;

  /**
   * @param running the longest wait for the new JVM to be RUNNING
   * @param poll between two probes of the new JVM
   */
  public KafkaRestart(
      Program program, Supplier<BrokerProbe.Result> probe, PayloadFile payload, Consumer<String> log, Duration running, Duration poll) {
    this.program = Objects.requireNonNull(program);
    this.probe = Objects.requireNonNull(probe);
    this.payload = Objects.requireNonNull(payload);
    this.log = Objects.requireNonNull(log);
    this.running = running;
    this.poll = poll;
  }

  /** @return {@link KafkaConfigure#OK} once the new broker JVM is RUNNING, else {@link KafkaConfigure#FAILED} */
  public int restart() {
    try {
      JsonNode pending = payload.read().path("kafka").path("restart_pending");
      KafkaWatch.Program before = program.status();
      long pid = before.running() ? before.pid() : 0;
      payload.update(p -> kafka(p).put("rolled_pid", pid));
      log.accept(
          "kafka restart: restarting the broker (pid " + pid + ")"
              + (pending.isArray() && !pending.isEmpty() ? " for " + pending : "") + ": controlled shutdown, then a start");
      long t0 = System.nanoTime();
      program.restart();
      // the new JVM runs with the new server.properties: nothing waits for a start any more, even
      // if it is slow to be RUNNING (the leader waits for it to be back in every ISR)
      payload.update(p -> kafka(p).remove("restart_pending"));
      long deadline = System.nanoTime() + running.toNanos();
      String last = "not probed yet";
      while (true) {
        KafkaWatch.Program now = program.status();
        if (now.running() && now.pid() != pid) {
          BrokerProbe.Result r = probe.get();
          if (r.answered() && r.state() == BrokerProbe.RUNNING) {
            log.accept("kafka restart: broker pid " + now.pid() + " RUNNING " + (System.nanoTime() - t0) / 1_000_000 + " ms after the stop began");
            return KafkaConfigure.OK;
          }
          last = r.answered() ? "broker pid " + now.pid() + " is " + BrokerProbe.stateName(r.state()) : r.failure();
        } else {
          last = "supervisord: " + now.state() + (now.pid() == 0 ? "" : " pid " + now.pid());
        }
        if (System.nanoTime() > deadline) {
          log.accept("kafka restart: the broker is not RUNNING " + running.toSeconds() + " s after its start (" + last + ")");
          return KafkaConfigure.FAILED;
        }
        TimeUnit.NANOSECONDS.sleep(poll.toNanos());
      }
    } catch (IOException e) {
      log.accept("kafka restart: " + e.getMessage());
      return KafkaConfigure.FAILED;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      log.accept("kafka restart: interrupted");
      return KafkaConfigure.FAILED;
    }
  }

  private static ObjectNode kafka(ObjectNode p) {
    return p.has("kafka") && p.get("kafka").isObject() ? (ObjectNode) p.get("kafka") : p.putObject("kafka");
  }
}
