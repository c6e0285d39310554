package io.kontrol.service.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The pod's restart state on a scripted supervisord and probe. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class KafkaRestartTest {

  @TempDir Path dir;

  private volatile KafkaWatch.Program program = new KafkaWatch.Program("RUNNING", 100, 600);
  private volatile BrokerProbe.Result answer = new BrokerProbe.Result(BrokerProbe.RUNNING, null);
  private final List<String> log = new CopyOnWriteArrayList<>();
  private final List<String> calls = new CopyOnWriteArrayList<>();

  private KafkaRestart restart(PayloadFile payload, Duration running) {
    return new KafkaRestart(
        new KafkaRestart.Program() {
          @Override
          public KafkaWatch.Program status() {
            calls.add("status");
            return program;
          }

          @Override
          public void restart() {
            calls.add("restart");
            // supervisord started a new JVM, which starts up (FENCED) before it runs
            program = new KafkaWatch.Program("RUNNING", 200, 5);
            answer = new BrokerProbe.Result(BrokerProbe.STARTING, null);
          }
        },
        () -> {
          BrokerProbe.Result r = answer;
          if (r.answered() && r.state() == BrokerProbe.STARTING) {
            answer = new BrokerProbe.Result(BrokerProbe.RUNNING, null);
          }
          return r;
        },
        payload,
        log::add,
        running,
        Duration.ofMillis(10));
  }

  @Test
  void theBrokerIsRestartedAndNothingWaitsForARestartOnceTheNewJvmRuns() throws IOException {
    PayloadFile payload = new PayloadFile(dir.resolve("payload.json"));
    payload.update(p -> p.putObject("kafka").put("restarts", 2).putArray("restart_pending").add("num.partitions"));

    assertThat(restart(payload, Duration.ofSeconds(5)).restart()).isEqualTo(KafkaConfigure.OK);

    assertThat(calls).containsSubsequence("status", "restart", "status");
    assertThat(payload.read().get("kafka").has("restart_pending")).isFalse();
    // the watch counts the end of pid 100 as this roll's
    assertThat(payload.read().get("kafka").get("rolled_pid").asLong()).isEqualTo(100);
    assertThat(payload.read().get("kafka").get("restarts").asInt()).isEqualTo(2);
    assertThat(log).anyMatch(l -> l.contains("restarting the broker (pid 100) for [\"num.partitions\"]"));
    assertThat(log).anyMatch(l -> l.contains("broker pid 200 RUNNING"));
  }

  @Test
  void aBrokerThatIsNotRunningInTimeFailsTheStateButNoLongerWaitsForARestart() throws IOException {
    PayloadFile payload = new PayloadFile(dir.resolve("payload.json"));
    payload.update(p -> p.putObject("kafka").putArray("restart_pending").add("num.partitions"));
    KafkaRestart r =
        new KafkaRestart(
            new KafkaRestart.Program() {
              @Override
              public KafkaWatch.Program status() {
                return program;
              }

              @Override
              public void restart() {
                program = new KafkaWatch.Program("BACKOFF", 0, 0);
              }
            },
            () -> answer,
            payload,
            log::add,
            Duration.ofMillis(200),
            Duration.ofMillis(10));

    assertThat(r.restart()).isEqualTo(KafkaConfigure.FAILED);
    // it was started with the new configuration: another restart would not help
    assertThat(payload.read().get("kafka").has("restart_pending")).isFalse();
    assertThat(log).anyMatch(l -> l.contains("is not RUNNING") && l.contains("(supervisord: BACKOFF)"));
  }
}
