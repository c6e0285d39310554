package io.kontrol.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.agent.callback.Backoff;
import io.kontrol.agent.callback.Callback;
import io.kontrol.agent.callback.CallbackResult;
import io.kontrol.agent.callback.CallbackRunner;
import io.kontrol.agent.callback.CallbackScheduler;
import io.kontrol.agent.callback.Damper;
import io.kontrol.agent.callback.Settle;
import io.kontrol.agent.testing.VirtualScheduler;
import io.kontrol.agent.watch.Snapshot;
import io.kontrol.service.nats.BrokerPod;
import java.io.Closeable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * kontrol's own commands run inside the agent: which command lines are recognised, and that a run
 * gives what the forked command gives (exit code, stdout as the state, stderr), on the command's
 * own thread, bounded by its timeout; a failing or timed-out run never replaces the last good
 * state.
 */
@Timeout(60)
class BuiltinCommandTest {

  private final List<Closeable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (Closeable c : toClose) {
      c.close();
    }
  }

  private <T extends Closeable> T closing(T c) {
    toClose.add(c);
    return c;
  }

  private static final String PODS =
      "[{\"app\":\"web\",\"ip\":\"10.0.0.2\",\"payload\":{},\"seq\":1},"
          + "{\"app\":\"web\",\"ip\":\"10.0.0.1\",\"payload\":{},\"seq\":2}]";

  @Test
  void kontrolsOwnCallbackAndConfigureAreRecognisedWithTheirOptions() {
    assertThat(BuiltinCommand.parse("kontrol callback haproxy")).contains(List.of("callback", "haproxy"));
    assertThat(BuiltinCommand.parse("  /usr/bin/kontrol   callback haproxy --timeout 10 "))
        .contains(List.of("callback", "haproxy", "--timeout", "10"));
    assertThat(BuiltinCommand.parse("kontrol haproxy configure --dir /data/haproxy"))
        .contains(List.of("haproxy", "configure", "--dir", "/data/haproxy"));
    assertThat(BuiltinCommand.parse("kontrol callback nats --timeout 10")).contains(List.of("callback", "nats", "--timeout", "10"));
    assertThat(BuiltinCommand.parse("kontrol nats configure --conf /data/nats/nats.conf"))
        .contains(List.of("nats", "configure", "--conf", "/data/nats/nats.conf"));
  }

  @Test
  void anythingElseIsAShellCommandAndForks() {
    for (String shell :
        List.of(
            "kontrol callback kafka",
            "kontrol nats configure --input '{}'",
            "kontrol callback haproxy; rm -rf /data",
            "kontrol callback haproxy > /tmp/out",
            "kontrol callback haproxy $EXTRA",
            "sh -c 'kontrol callback haproxy'",
            "X=1 kontrol callback haproxy",
            "kontrol callback haproxy extra",
            "kontrol haproxy configure --input '{\"hosts\": {}}'",
            "/opt/kontrol callback haproxy",
            "kontrol callback",
            "/home/me/callback.sh")) {
      assertThat(BuiltinCommand.parse(shell)).as(shell).isEmpty();
      assertThat(BuiltinCommand.callback(shell, Duration.ofSeconds(5))).as(shell).isInstanceOf(CallbackRunner.class);
    }
    assertThat(BuiltinCommand.callback("kontrol callback haproxy", Duration.ofSeconds(5)))
        .isNotInstanceOf(CallbackRunner.class)
        .isInstanceOf(Closeable.class);
  }

  @Test
  void theHaproxyCallbackRunsInTheAgentAndPrintsTheStateAsTheForkedOneDoes() throws Exception {
    Callback callback = BuiltinCommand.callback("kontrol callback haproxy", Duration.ofSeconds(20));
    closing((Closeable) callback);
    // only downstream pods, no proxy yet: nothing to send, the state holds the sorted hosts
    CallbackResult r = callback.run(Map.of("PODS", PODS, "KONTROL_LABELS", "{\"app\":\"haproxy\",\"role\":\"balancer\"}"));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.timedOut()).isFalse();
    assertThat(r.state()).hasValueSatisfying(s -> assertThat(s).contains("\"hosts\":{\"web\":[\"10.0.0.1\",\"10.0.0.2\"]}"));
    assertThat(r.stderr()).contains("haproxy: 0 proxy(ies) already configured");
  }

  @Test
  void badInputInTheAgentExitsTwoWithTheReasonAndNoState() throws Exception {
    Callback callback = closingCallback("kontrol callback haproxy");
    CallbackResult r = callback.run(Map.of("KONTROL_LABELS", "{\"app\":\"haproxy\",\"role\":\"balancer\"}"));
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.stderr()).contains("$PODS is empty");
    assertThat(r.state()).isEmpty();

    CallbackResult noApp = callback.run(Map.of("PODS", PODS));
    assertThat(noApp.exitCode()).isEqualTo(2);
    assertThat(noApp.stderr()).contains("KONTROL_LABELS holds no app");
  }

  private static String natsRecord(String ip, int seq) {
    return String.format(
        "{\"app\":\"nats\",\"id\":\"nats-%d\",\"ip\":\"%s\",\"key\":\"k\",\"nonce\":\"n%d\",\"payload\":{},"
            + "\"role\":\"broker\",\"seq\":%d}",
        seq, ip, seq, seq);
  }

  /**
   * The NATS callback in the agent, against a real automaton behind a real peer API server: the
   * broker gets its configure and the state is what the forked callback prints; a member that does
   * not answer fails the run with no state; no records is bad input.
   */
  @Test
  void theNatsCallbackRunsInTheAgentAndConfiguresTheBrokersAsTheForkedOneDoes(@TempDir Path dir) throws Exception {
    Callback callback = closingCallback("kontrol callback nats --timeout 10");
    try (BrokerPod pod = BrokerPod.start(dir.resolve("pod"))) {
      Map<String, String> env = Map.of("KONTROL_PORT", "" + pod.port(), "PODS", "[" + natsRecord("127.0.0.1", 1) + "]", "STATE", "");
      CallbackResult r = callback.run(env);
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.state()).contains("{\"group\":\"nats\",\"peers\":[\"127.0.0.1\"],\"nonces\":{\"127.0.0.1\":\"n1\"}}");
      assertThat(pod.configured()).containsExactly("{\"group\":\"nats\",\"peers\":[\"127.0.0.1\"]}");

      // a new broker joins and the first one's peer API does not answer: the run fails, no state,
      // the reason on stderr (every pod is on loopback, so both go unanswered)
      int port = pod.port();
      pod.stopPeerApi();
      CallbackResult failed =
          callback.run(Map.of("KONTROL_PORT", "" + port,
              "PODS", "[" + natsRecord("127.0.0.1", 1) + "," + natsRecord("127.0.0.2", 2) + "]", "STATE", r.state().orElseThrow()));
      assertThat(failed.exitCode()).as(failed.stderr()).isEqualTo(1);
      assertThat(failed.state()).isEmpty();
      assertThat(failed.stderr()).contains("2 of 2 member(s) not configured").contains("127.0.0.2");
      assertThat(pod.configured()).hasSize(1);
    }
    CallbackResult bad = callback.run(Map.of("STATE", ""));
    assertThat(bad.exitCode()).isEqualTo(2);
    assertThat(bad.state()).isEmpty();
    assertThat(bad.stderr()).contains("$PODS is empty");
  }

  private Callback closingCallback(String command) {
    Callback c = BuiltinCommand.callback(command, Duration.ofSeconds(20));
    closing((Closeable) c);
    return c;
  }

  @Test
  void aRunHappensOnTheCommandsOwnNamedThread() throws Exception {
    AtomicReference<String> thread = new AtomicReference<>();
    BuiltinCommand c =
        closing(new BuiltinCommand("callback test", (env, out, err) -> {
          thread.set(Thread.currentThread().getName());
          out.println("{\"v\":" + env.get("V") + "}");
          return 0;
        }));
    BuiltinCommand.Result r = c.run(Map.of("V", "7"), Duration.ofSeconds(5), 1024, 1024);
    assertThat(thread.get()).isEqualTo("kontrol-callback-test");
    assertThat(r.exitCode()).isZero();
    assertThat(r.stdout().strip()).isEqualTo("{\"v\":7}");
  }

  @Test
  void aRunPastItsTimeoutIsInterruptedAndTheCallerReturnsAtTheTimeout() throws Exception {
    CountDownLatch interrupted = new CountDownLatch(1);
    BuiltinCommand c =
        closing(new BuiltinCommand("slow", (env, out, err) -> {
          out.println("{\"partial\":true}");
          try {
            Thread.sleep(30_000);
          } catch (InterruptedException e) {
            interrupted.countDown();
            throw e;
          }
          return 0;
        }));
    long t0 = System.nanoTime();
    CallbackResult r = c.asCallback(Duration.ofMillis(300)).run(Map.of());
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertThat(ms).isBetween(250L, 5_000L);
    assertThat(r.timedOut()).isTrue();
    assertThat(r.exitCode()).isEqualTo(-1);
    assertThat(r.state()).as("a timed-out run is never a state, whatever it printed").isEmpty();
    assertThat(r.failure()).startsWith("timed out");
    assertThat(interrupted.await(5, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aCommandThatThrowsExitsOneWithTheErrorOnStderr() throws Exception {
    BuiltinCommand c = closing(new BuiltinCommand("broken", (env, out, err) -> {
      throw new IllegalStateException("a bug");
    }));
    BuiltinCommand.Result r = c.run(Map.of(), Duration.ofSeconds(5), 1024, 1024);
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.stderr()).contains("kontrol broken: java.lang.IllegalStateException: a bug");
  }

  @Test
  void stdoutPastItsLimitIsCutAndIsNoState() throws Exception {
    BuiltinCommand c = closing(new BuiltinCommand("chatty", (env, out, err) -> {
      out.print("[" + "1,".repeat(100) + "1]");
      return 0;
    }));
    CallbackResult r = c.asCallback(Duration.ofSeconds(5)).run(Map.of());
    assertThat(r.state()).as("the forked runner keeps at most MAX_STDOUT; here 1 MiB is plenty").isPresent();
    BuiltinCommand.Result cut = c.run(Map.of(), Duration.ofSeconds(5), 16, 1024);
    assertThat(cut.stdoutCut()).isTrue();
    assertThat(cut.stdout()).hasSize(16);
  }

  @Test
  void aRunInterruptedByItsCallerIsInterruptedToo() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch interrupted = new CountDownLatch(1);
    BuiltinCommand c = closing(new BuiltinCommand("held", (env, out, err) -> {
      started.countDown();
      try {
        Thread.sleep(30_000);
      } catch (InterruptedException e) {
        interrupted.countDown();
      }
      return 0;
    }));
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread caller = new Thread(() -> {
      try {
        c.run(Map.of(), Duration.ofSeconds(30), 1024, 1024);
      } catch (InterruptedException e) {
        thrown.set(e);
      }
    }, "test-caller");
    caller.start();
    assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
    caller.interrupt();
    caller.join(5_000);
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(interrupted.await(5, TimeUnit.SECONDS)).isTrue();
  }

  /**
   * The leader's loop with an in-agent callback: a good run's state is written; a run that fails
   * (exit 1), one that prints no JSON and one that times out write nothing, and the next run is
   * given the last good state as $STATE.
   */
  @Test
  void aFailingOrTimedOutInAgentCallbackNeverReplacesTheLastGoodState() throws Exception {
    AtomicInteger version = new AtomicInteger();
    AtomicReference<String> behaviour = new AtomicReference<>("ok");
    List<String> written = new CopyOnWriteArrayList<>();
    List<String> stateSeen = new CopyOnWriteArrayList<>();
    BuiltinCommand command =
        closing(new BuiltinCommand("callback flaky", (env, out, err) -> {
          stateSeen.add(env.getOrDefault("STATE", "-"));
          switch (behaviour.get()) {
            case "ok" -> {
              out.println("{\"good\":" + version.get() + "}");
              return 0;
            }
            case "fail" -> {
              out.println("{\"bad\":1}"); // printed, but the exit code says it failed
              err.println("a member did not apply it");
              return 1;
            }
            case "garbage" -> {
              out.println("not json");
              return 0;
            }
            default -> {
              out.println("{\"late\":1}");
              Thread.sleep(30_000);
              return 0;
            }
          }
        }));
    VirtualScheduler time = new VirtualScheduler();
    CallbackScheduler scheduler =
        closing(new CallbackScheduler(
            "kontrol/test",
            "pod-1",
            new Damper(Duration.ofSeconds(1), Duration.ofSeconds(5)),
            new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(60)),
            time,
            time::nanoTime,
            () -> new Snapshot(
                List.of(new Snapshot.Pod("pod-1", 1, "{\"v\":" + version.get() + "}")),
                written.isEmpty() ? Optional.empty() : Optional.of(written.get(written.size() - 1)),
                version.get() + 1),
            Optional.of(command.asCallback(Duration.ofMillis(300))),
            Map.of(),
            (state, members) -> written.add(state),
            outcome -> {},
            Settle.none()));

    scheduler.changed();
    time.advance(Duration.ofSeconds(2));
    assertThat(written).containsExactly("{\"good\":0}");

    for (String bad : List.of("fail", "garbage", "timeout")) {
      behaviour.set(bad);
      version.incrementAndGet();
      scheduler.changed();
      time.advance(Duration.ofSeconds(2)); // the damper, then one run (its retry is 1 s later)
      assertThat(written).as(bad).containsExactly("{\"good\":0}");
      assertThat(stateSeen.get(stateSeen.size() - 1)).as(bad).isEqualTo("{\"good\":0}");
    }
    assertThat(stateSeen).hasSizeGreaterThanOrEqualTo(4);
  }
}
