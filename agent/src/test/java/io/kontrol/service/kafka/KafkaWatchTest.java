package io.kontrol.service.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The watchdog's decisions on a scripted supervisor and probe, with an explicit clock. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class KafkaWatchTest {

  @TempDir Path dir;

  private KafkaWatch.Program program = new KafkaWatch.Program("RUNNING", 100, 120);
  private BrokerProbe.Result answer = new BrokerProbe.Result(BrokerProbe.RUNNING, null);
  private int kills;
  private final List<String> log = new ArrayList<>();

  private KafkaWatch watch(PayloadFile payload) {
    return new KafkaWatch(
        new KafkaWatch.Supervisor() {
          @Override
          public KafkaWatch.Program status() {
            return program;
          }

          @Override
          public void kill() {
            kills++;
          }
        },
        () -> answer,
        payload,
        log::add,
        Duration.ofSeconds(60),
        Duration.ofSeconds(10),
        Duration.ofSeconds(300));
  }

  @Test
  void aSilentBrokerIsKilledAfterTheLimitAndCountedOnce() throws IOException {
    PayloadFile payload = new PayloadFile(dir.resolve("payload.json"));
    KafkaWatch w = watch(payload);
    w.tick(0);
    answer = new BrokerProbe.Result(null, "no JMX answer within 2000 ms");
    w.tick(2_000);
    w.tick(11_000);
    assertThat(kills).isZero();
    w.tick(12_000);
    assertThat(kills).isEqualTo(1);
    // supervisord starts it again: a new pid is not counted a second time
    program = new KafkaWatch.Program("RUNNING", 200, 1);
    w.tick(20_000);
    assertThat(payload.read().get("kafka").get("restarts").asInt()).isEqualTo(1);
    assertThat(payload.read().get("kafka").get("last_restart").asText()).contains("killed: no answer for 10 s");
  }

  @Test
  void anExitIsCountedWhenTheNewPidShows() throws IOException {
    PayloadFile payload = new PayloadFile(dir.resolve("payload.json"));
    KafkaWatch w = watch(payload);
    w.tick(0);
    program = new KafkaWatch.Program("RUNNING", 300, 6);
    w.tick(2_000);
    w.tick(4_000);
    assertThat(kills).isZero();
    assertThat(payload.read().get("kafka").get("restarts").asInt()).isEqualTo(1);
    assertThat(payload.read().get("kafka").get("last_restart").asText()).contains("exited", "100 -> 300");
  }

  @Test
  void aJvmEndedByTheLeadersRollIsCountedAsRolled() throws IOException {
    PayloadFile payload = new PayloadFile(dir.resolve("payload.json"));
    KafkaWatch w = watch(payload);
    w.tick(0);
    payload.update(p -> p.putObject("kafka").put("rolled_pid", 100));
    program = new KafkaWatch.Program("RUNNING", 300, 6);
    w.tick(2_000);
    assertThat(payload.read().get("kafka").get("restarts").asInt()).isEqualTo(1);
    assertThat(payload.read().get("kafka").get("last_restart").asText()).startsWith("rolled:").contains("100 -> 300");
  }

  @Test
  void aRecoveringBrokerIsNeverKilled() throws IOException {
    KafkaWatch w = watch(new PayloadFile(dir.resolve("payload.json")));
    answer = new BrokerProbe.Result(BrokerProbe.RECOVERY, null);
    for (long t = 0; t < 3_600_000; t += 2_000) {
      w.tick(t);
    }
    assertThat(kills).isZero();
  }

  @Test
  void aFreshJvmGetsItsGraceAndAStuckOneIsKilled() throws IOException {
    KafkaWatch w = watch(new PayloadFile(dir.resolve("payload.json")));
    program = new KafkaWatch.Program("RUNNING", 100, 5);
    answer = new BrokerProbe.Result(null, "connection refused");
    for (long t = 0; t < 50_000; t += 2_000) {
      w.tick(t);
    }
    assertThat(kills).isZero();
    program = new KafkaWatch.Program("RUNNING", 100, 120);
    answer = new BrokerProbe.Result(BrokerProbe.STARTING, null);
    w.tick(60_000);
    w.tick(359_000);
    assertThat(kills).isZero();
    w.tick(360_000);
    assertThat(kills).isEqualTo(1);
    assertThat(log).anyMatch(l -> l.contains("STARTING for 300 s"));
  }

  @Test
  void aYoungJvmThatAnsweredAndFellSilentIsKilledWithoutWaitingForTheGrace() throws IOException {
    PayloadFile payload = new PayloadFile(dir.resolve("payload.json"));
    KafkaWatch w = watch(payload);
    program = new KafkaWatch.Program("RUNNING", 100, 20);
    w.tick(0); // RUNNING at 20 s of uptime
    answer = new BrokerProbe.Result(null, "no JMX answer within 2000 ms"); // kill -STOP
    program = new KafkaWatch.Program("RUNNING", 100, 22);
    w.tick(2_000);
    program = new KafkaWatch.Program("RUNNING", 100, 31);
    w.tick(11_000);
    assertThat(kills).isZero();
    program = new KafkaWatch.Program("RUNNING", 100, 32);
    w.tick(12_000); // 32 s of uptime: well inside the 60 s grace
    assertThat(kills).isEqualTo(1);
    assertThat(payload.read().get("kafka").get("last_restart").asText()).contains("killed: no answer for 10 s");
  }

  @Test
  void aStoppedProgramIsLeftToSupervisord() throws IOException {
    KafkaWatch w = watch(new PayloadFile(dir.resolve("payload.json")));
    program = KafkaWatch.Program.parse("kafka                            STOPPED   Dec 01 08:00 AM");
    answer = new BrokerProbe.Result(null, "connection refused");
    for (long t = 0; t < 100_000; t += 2_000) {
      w.tick(t);
    }
    assertThat(kills).isZero();
  }

  @Test
  void supervisorctlLinesParse() {
    assertThat(KafkaWatch.Program.parse("kafka                            RUNNING   pid 123, uptime 0:01:02"))
        .isEqualTo(new KafkaWatch.Program("RUNNING", 123, 62));
    assertThat(KafkaWatch.Program.parse("kafka   RUNNING   pid 9, uptime 2 days, 1:00:00"))
        .isEqualTo(new KafkaWatch.Program("RUNNING", 9, 2 * 86400 + 3600));
    assertThat(KafkaWatch.Program.parse("kafka   STARTING").state()).isEqualTo("STARTING");
  }
}
