package io.kontrol.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerServer;
import io.kontrol.agent.rpc.PeerTestManifest;
import io.kontrol.agent.rpc.StatusSource;
import io.kontrol.automaton.testing.AutomatonExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code kontrol peer}, {@code kontrol status} and {@code kontrol identity}: output and exit codes. */
@Timeout(120)
class PeerCommandTest {

  @TempDir static Path dir;
  @RegisterExtension static final AutomatonExtension automaton = AutomatonExtension.manifest(PeerTestManifest.YAML).build();
  static PeerServer server;

  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  @BeforeAll
  static void start() throws Exception {
    server = PeerServer.start(PeerConfig.newBuilder().port(0).socket(automaton.socket()).token("t0k3n").build(),
        reply -> reply.setId("pod-7").setIp("10.0.0.7"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  int run(Map<String, String> env, String... args) {
    return KontrolCommand.commandLine(new KontrolCommand(env))
        .setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true)).execute(args);
  }

  static Map<String, String> env(String token) {
    Map<String, String> env = new HashMap<>();
    env.put("KONTROL_TOKEN", token);
    return env;
  }

  String target() {
    return "127.0.0.1:" + server.port();
  }

  @Test
  void aTransitionThatWorksExitsZeroAndPrintsTheState() {
    assertThat(run(env("t0k3n"), "peer", target(), "transition", "ready", "--wait")).isZero();
    assertThat(out.toString()).isEqualTo("OK ready\n");
  }

  @Test
  void aRefusedTransitionExitsOne() {
    assertThat(run(env("t0k3n"), "peer", target(), "transition", "nowhere", "{}")).isEqualTo(1);
    assertThat(err.toString()).startsWith("KO ");
  }

  @Test
  void aWrongTokenExitsOneAndSaysSo() {
    assertThat(run(env("nope"), "peer", target(), "status")).isEqualTo(1);
    assertThat(err.toString()).contains("UNAUTHENTICATED");
  }

  @Test
  void anUnreachablePeerOrATimeoutExitsThree() {
    assertThat(run(env("t0k3n"), "peer", "127.0.0.1:1", "status", "--timeout", "2")).isEqualTo(3);
    assertThat(run(env("t0k3n"), "peer", target(), "transition", "slow", "--wait", "--timeout", "0.5")).isEqualTo(3);
    assertThat(run(env("t0k3n"), "peer", target(), "transition", "ready", "--wait")).isZero();
  }

  @Test
  void statusPrintsATableOrJson() {
    assertThat(run(env("t0k3n"), "peer", target(), "status")).isZero();
    assertThat(out.toString()).contains("id          pod-7").contains("state       ");
    out.getBuffer().setLength(0);
    assertThat(run(env("t0k3n"), "peer", target(), "status", "--json")).isZero();
    assertThat(out.toString()).contains("\"id\" : \"pod-7\"").contains("\"automaton_state\"");
  }

  @Test
  void kontrolStatusAsksTheLocalAgentOnKontrolPort() {
    Map<String, String> env = env("t0k3n");
    env.put("KONTROL_PORT", String.valueOf(server.port()));
    assertThat(run(env, "status", "--json")).isZero();
    assertThat(out.toString()).contains("\"ip\" : \"10.0.0.7\"");
  }

  @Test
  void badUsageExitsTwo() {
    assertThat(run(env("t0k3n"), "peer", target())).isEqualTo(2);
    assertThat(run(env("t0k3n"), "peer", "127.0.0.1:http", "status")).isEqualTo(2);
    assertThat(run(env("t0k3n"), "peer", target(), "transition")).isEqualTo(2);
    Map<String, String> badFile = new HashMap<>();
    badFile.put("KONTROL_TOKEN_FILE", dir.resolve("absent").toString());
    assertThat(run(badFile, "peer", target(), "status")).isEqualTo(2);
    assertThat(err.toString()).contains("KONTROL_TOKEN_FILE");
  }

  @Test
  void identityPrintsExportLinesOrJsonInDebugMode() {
    Map<String, String> env = new HashMap<>();
    env.put("KONTROL_MODE", "debug");
    env.put("KONTROL_ID", "dev-0");
    env.put("KONTROL_IP", "127.0.0.1");
    env.put("KONTROL_LABELS", "{\"app\":\"nats\",\"role\":\"broker\"}");
    assertThat(run(env, "identity")).isZero();
    assertThat(out.toString()).isEqualTo("export KONTROL_ID='dev-0'\nexport KONTROL_IP='127.0.0.1'\n"
        + "export KONTROL_LABELS='{\"app\":\"nats\",\"role\":\"broker\"}'\n");
    out.getBuffer().setLength(0);
    assertThat(run(env, "identity", "--json")).isZero();
    assertThat(out.toString()).contains("\"KONTROL_LABELS\" : {").contains("\"app\" : \"nats\"");
    env.put("KONTROL_LABELS", "app=nats");
    assertThat(run(env, "identity")).isEqualTo(1);
    assertThat(err.toString()).contains("KONTROL_LABELS is not a JSON object");
  }
}
