package io.kontrol.automaton.machine;

import static org.awaitility.Awaitility.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.automaton.testing.AutomatonProcess;
import io.kontrol.automaton.testing.AutomatonProcess.Result;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Every command of the socket protocol against a real automaton, through socat and automaton send. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProtocolTest {

  static final String MANIFEST = String.join("\n",
      "initial: idle",
      "terminal: end",
      "states:",
      "- tag: idle",
      "  next: [configure, 'expose-via-*', 'step?', '[xy]ray', slow, env]",
      "- tag: configure",
      "  shell: echo \"configure input=[$INPUT]\"",
      "  next: [configure, idle]",
      "- tag: expose-via-route53",
      "  shell: echo route53",
      "  next: [idle]",
      "- tag: step1",
      "  next: [idle, step2]",
      "- tag: step2",
      "  next: [idle]",
      "- tag: xray",
      "  next: [idle]",
      "- tag: zray",
      "  next: [idle]",
      "- tag: slow",
      "  shell: sleep 0.6; echo slow-done",
      "  next: [idle]",
      "- tag: env",
      "  shell: echo \"env N=[$N] MSG=[$MSG] SOCKET=[$SOCKET] INPUT=[$INPUT]\"",
      "  next: [idle, env]",
      "- tag: end",
      "  shell: echo end-reached",
      "");

  @TempDir Path dir;
  AutomatonProcess automaton;

  @AfterEach
  void stop() {
    if (automaton != null) {
      automaton.close();
    }
  }

  @Test
  void stateAnswersTheCurrentTagThroughSocatAndSend() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.socat("STATE")).isEqualTo("idle");
    Result r = AutomatonProcess.cli(dir, "send", "-s", automaton.socket().toString(), "STATE");
    assertThat(r.code()).isZero();
    assertThat(r.out().trim()).isEqualTo("idle");
  }

  @Test
  void gotoIsAcknowledgedAtOnceAndRunsTheScriptWithItsInput() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    long t0 = System.nanoTime();
    assertThat(automaton.send("GOTO slow")).isEqualTo("OK");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("GOTO does not wait for the script").isLessThan(Duration.ofMillis(400));
    assertThat(automaton.state()).isEqualTo("slow");
    automaton.awaitOutput("slow-done");
    assertThat(automaton.socat("GOTO idle")).isEqualTo("OK");

    assertThat(automaton.socat("GOTO configure {\"a\": 1, \"b\": \"x  y\"}")).isEqualTo("OK");
    automaton.awaitOutput("configure input=[{\"a\": 1, \"b\": \"x  y\"}]");
    assertThat(automaton.output()).contains("idle -> configure (input: {\"a\": 1, \"b\": \"x  y\"})");

    Result r = AutomatonProcess.cli(dir, "send", "-s", automaton.socket().toString(), "GOTO", "configure", "{\"k\": [1, 2]}", "two  spaces");
    assertThat(r.code()).isZero();
    assertThat(r.out().trim()).isEqualTo("OK");
    automaton.awaitOutput("configure input=[{\"k\": [1, 2]} two  spaces]");
  }

  @Test
  void nextPatternsAreShellGlobsAndEverythingElseIsRefused() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.send("GOTO zray")).as("[xy]ray does not match zray").isEqualTo("KO");
    assertThat(automaton.send("GOTO nosuch")).as("unknown state").isEqualTo("KO");
    assertThat(automaton.send("GOTO expose-via-route53")).isEqualTo("OK");
    automaton.awaitOutput("route53");
    assertThat(automaton.send("GOTO idle")).isEqualTo("OK");
    assertThat(automaton.send("GOTO step1")).isEqualTo("OK");
    assertThat(automaton.send("GOTO step2")).isEqualTo("OK");
    assertThat(automaton.send("GOTO step1")).as("step2 only goes to idle").isEqualTo("KO");
    assertThat(automaton.send("GOTO idle")).isEqualTo("OK");
    assertThat(automaton.send("GOTO xray")).isEqualTo("OK");
    // OK means queued: the route53 script's exit may still be ahead of these transitions
    await().atMost(Duration.ofSeconds(5)).until(() -> "xray".equals(automaton.state()));
    assertThat(automaton.socat("GOTO configure")).as("xray only goes to idle").isEqualTo("KO");
    assertThat(automaton.state()).isEqualTo("xray");
  }

  @Test
  void transitionsAreCheckedAgainstTheTailOfTheQueueAndRunInOrder() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.send("GOTO slow")).isEqualTo("OK");
    assertThat(automaton.send("GOTO idle")).as("slow -> idle, once slow has run").isEqualTo("OK");
    assertThat(automaton.send("GOTO configure")).as("idle -> configure, after the queued idle").isEqualTo("OK");
    assertThat(automaton.send("GOTO slow")).as("configure -> slow is not allowed").isEqualTo("KO");
    automaton.awaitOutput("configure input=[]");
    String out = automaton.output();
    assertThat(out.indexOf("idle -> slow")).isLessThan(out.indexOf("slow-done"));
    assertThat(out.indexOf("slow-done")).as("slow ran to its end (0.6 s < settle)").isLessThan(out.indexOf("slow -> idle"));
    assertThat(out.indexOf("slow -> idle")).isLessThan(out.indexOf("idle -> configure"));
    assertThat(automaton.state()).isEqualTo("configure");
  }

  @Test
  void waitRepliesWhenTheScriptHasFinished() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.send("WAIT nosuch")).isEqualTo("KO");
    long t0 = System.nanoTime();
    assertThat(automaton.send("WAIT slow")).isEqualTo("OK");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(550));
    assertThat(automaton.output()).contains("slow-done");
    assertThat(automaton.send("WAIT idle")).as("a state without a script is done at once").isEqualTo("OK");

    Result r = AutomatonProcess.cli(dir, "send", "-s", automaton.socket().toString(), "-t", "5", "WAIT", "env", "x");
    assertThat(r.code()).isZero();
    assertThat(r.out().trim()).isEqualTo("OK");
    assertThat(automaton.output()).contains("INPUT=[x]");
    assertThat(AutomatonProcess.socat(dir, automaton.socket(), "WAIT env y\n".getBytes(), 5)).isEqualTo("OK");
    assertThat(automaton.output()).contains("INPUT=[y]");
  }

  @Test
  void setValuesReachEveryLaterScriptAlongWithSocketAndInput() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.socat("SET N 42")).isEqualTo("OK");
    assertThat(automaton.send("SET MSG hello   world")).isEqualTo("OK");
    assertThat(automaton.send("SET 1BAD x")).isEqualTo("KO");
    assertThat(automaton.send("SET INPUT x")).as("automaton sets INPUT itself").isEqualTo("KO");
    assertThat(automaton.send("WAIT env {\"k\": \"v  w\"}")).isEqualTo("OK");
    assertThat(automaton.output())
        .contains("env N=[42] MSG=[hello   world] SOCKET=[" + automaton.socket() + "] INPUT=[{\"k\": \"v  w\"}]");

    Result r = AutomatonProcess.cli(dir, "send", "-s", automaton.socket().toString(), "SET", "N", "43");
    assertThat(r.code()).isZero();
    assertThat(automaton.send("WAIT env")).isEqualTo("OK");
    assertThat(automaton.output()).contains("env N=[43] MSG=[hello   world] SOCKET=[" + automaton.socket() + "] INPUT=[]");
  }

  @Test
  void theTerminalStateIsAlwaysReachableAndNothingLeavesIt() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.send("GOTO step1")).isEqualTo("OK");
    assertThat(automaton.send("GOTO end")).as("step1 does not list end, but end is terminal").isEqualTo("OK");
    automaton.awaitOutput("end-reached");
    assertThat(automaton.state()).isEqualTo("end");
    assertThat(automaton.send("GOTO idle")).isEqualTo("KO");
    assertThat(automaton.send("GOTO end")).as("not even to itself").isEqualTo("KO");
    assertThat(automaton.process().isAlive()).as("GOTO to the terminal state is not DIE").isTrue();

    Result r = AutomatonProcess.cli(dir, "send", "-s", automaton.socket().toString(), "DIE");
    assertThat(r.code()).isZero();
    assertThat(r.out().trim()).isEqualTo("OK");
    assertThat(automaton.awaitExit(Duration.ofSeconds(10))).isZero();
    assertThat(automaton.output().split("end-reached", -1)).as("the terminal script ran once").hasSize(2);
  }

  @Test
  void sendExitCodesTellOkFromKoFromUnreachable() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    String sock = automaton.socket().toString();
    Result ko = AutomatonProcess.cli(dir, "send", "-s", sock, "GOTO", "zray");
    assertThat(ko.code()).isEqualTo(1);
    assertThat(ko.out().trim()).isEqualTo("KO");
    Result bad = AutomatonProcess.cli(dir, "send", "-s", sock, "HELLO");
    assertThat(bad.code()).isEqualTo(1);
    Result usage = AutomatonProcess.cli(dir, "send", "-s", sock);
    assertThat(usage.code()).isEqualTo(2);
    assertThat(usage.err()).contains("COMMAND");
    Result none = AutomatonProcess.cli(dir, "send", "-s", dir.resolve("nothing-here").toString(), "STATE");
    assertThat(none.code()).isEqualTo(3);
    assertThat(none.err()).contains("no automaton at " + dir.resolve("nothing-here"));
    assertThat(automaton.state()).isEqualTo("idle");
  }
}
