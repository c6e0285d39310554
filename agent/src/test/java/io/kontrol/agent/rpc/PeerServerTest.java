package io.kontrol.agent.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kontrol.agent.rpc.v1.Group;
import io.kontrol.agent.rpc.v1.StatusReply;
import io.kontrol.automaton.socket.SocketServer;
import io.kontrol.automaton.testing.AutomatonExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The peer API over loopback gRPC, with a real automaton behind it. */
@Timeout(120)
class PeerServerTest {

  static final Duration T = Duration.ofSeconds(10);

  @TempDir static Path dir;
  @RegisterExtension static final AutomatonExtension automaton = AutomatonExtension.manifest(PeerTestManifest.YAML).build();

  static PeerConfig.Builder config() {
    return PeerConfig.newBuilder().port(0).socket(automaton.socket());
  }

  @Nested
  class Transition {

    @Test
    void waitReturnsOkAndTheStateReached() throws Exception {
      try (PeerServer server = PeerServer.start(config().build(), StatusSource.none());
          PeerClient client = new PeerClient(config().build())) {
        TransitionResult r = client.transition("127.0.0.1", server.port(), "ready", null, true, T);
        assertThat(r.outcome()).isEqualTo(PeerOutcome.OK);
        assertThat(r.state()).isEqualTo("ready");
        assertThat(automaton.state()).isEqualTo("ready");
      }
    }

    @Test
    void theInputReachesTheStateScript() throws Exception {
      try (PeerServer server = PeerServer.start(config().build(), StatusSource.none());
          PeerClient client = new PeerClient(config().build())) {
        String json = "{\"peers\": [\"10.0.0.1\", \"10.0.0.2\"], \"quote\": \"it's\"}";
        TransitionResult r = client.transition("127.0.0.1", server.port(), "echo", json, true, T);
        assertThat(r.outcome()).isEqualTo(PeerOutcome.OK);
        assertThat(Files.readString(automaton.dir().resolve("input"))).isEqualTo(json);
      }
    }

    @Test
    void anUnknownStateIsKoWithAReason() throws Exception {
      try (PeerServer server = PeerServer.start(config().build(), StatusSource.none());
          PeerClient client = new PeerClient(config().build())) {
        client.transition("127.0.0.1", server.port(), "ready", null, true, T);
        TransitionResult r = client.transition("127.0.0.1", server.port(), "no-such-state", null, false, T);
        assertThat(r.outcome()).isEqualTo(PeerOutcome.KO);
        assertThat(r.outcome().exitCode()).isEqualTo(1);
        assertThat(r.reason()).contains("no-such-state");
        assertThat(r.state()).isEqualTo("ready");
      }
    }

    @Test
    void aWaitLongerThanTheTimeoutEndsAsTimeoutInTime() throws Exception {
      try (PeerServer server = PeerServer.start(config().build(), StatusSource.none());
          PeerClient client = new PeerClient(config().build())) {
        long t0 = System.nanoTime();
        TransitionResult r = client.transition("127.0.0.1", server.port(), "slow", null, true, Duration.ofMillis(500));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(r.outcome()).isEqualTo(PeerOutcome.TIMEOUT);
        assertThat(r.outcome().exitCode()).isEqualTo(3);
        assertThat(ms).isLessThan(3_000);
        // leave the machine in a state the other tests can leave
        assertThat(client.transition("127.0.0.1", server.port(), "ready", null, true, T).ok()).isTrue();
      }
    }

    @Test
    void aTransitionOverTheAutomatonsLineLimitIsRejectedAndChangesNothing() throws Exception {
      try (PeerServer server = PeerServer.start(config().build(), StatusSource.none());
          PeerClient client = new PeerClient(config().build())) {
        client.transition("127.0.0.1", server.port(), "ready", null, true, T);
        // the automaton reads lines of at most 64 KiB: one byte more is refused here, with the reason
        String over = "x".repeat(SocketServer.MAX_LINE - "WAIT echo ".length() + 1);
        TransitionResult r = client.transition("127.0.0.1", server.port(), "echo", over, true, T);
        assertThat(r.outcome()).isEqualTo(PeerOutcome.REFUSED);
        assertThat(r.reason()).contains("INVALID_ARGUMENT").contains((SocketServer.MAX_LINE + 1) + " bytes").contains("64 KiB");
        assertThat(automaton.state()).isEqualTo("ready");

        String atLimit = over.substring(1);
        assertThat(client.transition("127.0.0.1", server.port(), "echo", atLimit, true, T).ok()).as("exactly 64 KiB").isTrue();
        assertThat(client.transition("127.0.0.1", server.port(), "ready", null, true, T).ok()).isTrue();
      }
    }

    @Test
    void aStateWithSpacesOrAMultiLineInputIsRejected() throws Exception {
      try (PeerServer server = PeerServer.start(config().build(), StatusSource.none());
          PeerClient client = new PeerClient(config().build())) {
        assertThat(client.transition("127.0.0.1", server.port(), "ready", null, true, T).ok()).isTrue();
        assertThat(client.transition("127.0.0.1", server.port(), "ready now", null, false, T).reason())
            .contains("one tag");
        assertThat(client.transition("127.0.0.1", server.port(), "echo", "{\n}", false, T).reason())
            .contains("one line");
        // the automaton would answer KO to a control character: the peer API says why instead
        assertThat(client.transition("127.0.0.1", server.port(), "ec\u0001ho", null, false, T).reason())
            .contains("control characters");
        assertThat(client.transition("127.0.0.1", server.port(), "echo", "{\"a\":\"\u0000\"}", false, T).reason())
            .contains("control character 0x0 at offset 6");
        assertThat(automaton.state()).isEqualTo("ready");
      }
    }

    @Test
    void noAutomatonIsAClearUnavailableError() throws Exception {
      PeerConfig none = PeerConfig.newBuilder().port(0).socket(dir.resolve("nobody-here")).build();
      try (PeerServer server = PeerServer.start(none, StatusSource.none());
          PeerClient client = new PeerClient(none)) {
        TransitionResult r = client.transition("127.0.0.1", server.port(), "ready", null, true, T);
        assertThat(r.outcome()).isEqualTo(PeerOutcome.UNAVAILABLE);
        assertThat(r.reason()).contains("automaton is not running").contains("nobody-here");
      }
    }

    @Test
    void anUnreachablePeerIsUnavailable() {
      try (PeerClient client = new PeerClient(config().build())) {
        TransitionResult r = client.transition("127.0.0.1", 1, "ready", null, true, T);
        assertThat(r.outcome()).isEqualTo(PeerOutcome.UNAVAILABLE);
        assertThat(r.outcome().exitCode()).isEqualTo(3);
      }
    }
  }

  @Nested
  class Token {

    @Test
    void theRightTokenIsAccepted() throws Exception {
      PeerConfig withToken = config().token("s3cret").build();
      try (PeerServer server = PeerServer.start(withToken, StatusSource.none());
          PeerClient client = new PeerClient(withToken)) {
        assertThat(client.transition("127.0.0.1", server.port(), "ready", null, true, T).ok()).isTrue();
      }
    }

    @Test
    void noTokenOrAWrongOneIsRejectedAndChangesNothing() throws Exception {
      try (PeerServer server = PeerServer.start(config().token("s3cret").build(), StatusSource.none());
          PeerClient good = new PeerClient(config().token("s3cret").build());
          PeerClient anonymous = new PeerClient(config().build());
          PeerClient wrong = new PeerClient(config().token("guess").build())) {
        assertThat(good.transition("127.0.0.1", server.port(), "ready", null, true, T).ok()).isTrue();

        TransitionResult r = anonymous.transition("127.0.0.1", server.port(), "echo", "no", true, T);
        assertThat(r.outcome()).isEqualTo(PeerOutcome.REFUSED);
        assertThat(r.reason()).contains("UNAUTHENTICATED");
        r = wrong.transition("127.0.0.1", server.port(), "echo", "no", true, T);
        assertThat(r.outcome()).isEqualTo(PeerOutcome.REFUSED);
        assertThat(r.reason()).contains("UNAUTHENTICATED");
        assertThatThrownBy(() -> wrong.status("127.0.0.1", server.port(), T))
            .isInstanceOfSatisfying(PeerException.class, e -> assertThat(e.outcome()).isEqualTo(PeerOutcome.REFUSED));
        assertThat(automaton.state()).isEqualTo("ready");
      }
    }

    @Test
    void theTokenFileIsRead() throws Exception {
      Path file = dir.resolve("token");
      Files.writeString(file, "from-a-secret\n");
      PeerConfig c = PeerConfig.fromEnv(java.util.Map.of("KONTROL_TOKEN_FILE", file.toString()));
      assertThat(c.token()).contains("from-a-secret");
      assertThatThrownBy(() -> PeerConfig.fromEnv(java.util.Map.of("KONTROL_TOKEN_FILE", dir.resolve("missing").toString())))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("KONTROL_TOKEN_FILE");
    }
  }

  @Nested
  class MutualTls {

    @Test
    void aClientWithACertificateFromTheCaIsAccepted() throws Exception {
      TestCertificates pki = TestCertificates.create(Files.createTempDirectory(dir, "pki"));
      PeerConfig serverSide = config().tls(pki.serverCert, pki.serverKey, pki.ca).build();
      PeerConfig clientSide = config().tls(pki.clientCert, pki.clientKey, pki.ca).build();
      try (PeerServer server = PeerServer.start(serverSide, StatusSource.none());
          PeerClient client = new PeerClient(clientSide)) {
        assertThat(client.transition("localhost", server.port(), "ready", null, true, T).ok()).isTrue();
      }
    }

    @Test
    void aClientWithoutACertificateOrFromAnotherCaIsRejected() throws Exception {
      TestCertificates pki = TestCertificates.create(Files.createTempDirectory(dir, "pki"));
      PeerConfig serverSide = config().tls(pki.serverCert, pki.serverKey, pki.ca).build();
      try (PeerServer server = PeerServer.start(serverSide, StatusSource.none());
          PeerClient plain = new PeerClient(config().build());
          PeerClient caOnly = new PeerClient(config().tls(null, null, pki.ca).build());
          PeerClient rogue = new PeerClient(config().tls(pki.rogueCert, pki.rogueKey, pki.ca).build())) {
        for (PeerClient c : new PeerClient[] {plain, caOnly, rogue}) {
          TransitionResult r = c.transition("localhost", server.port(), "echo", "no", true, T);
          assertThat(r.ok()).as("%s", r).isFalse();
        }
        assertThat(automaton.state()).isNotEqualTo("echo");
      }
    }
  }

  @Nested
  class Invoke {

    @Test
    void isRefusedByDefault() throws Exception {
      try (PeerServer server = PeerServer.start(config().build(), StatusSource.none());
          PeerClient client = new PeerClient(config().build())) {
        Path marker = dir.resolve("invoked");
        assertThatThrownBy(() -> client.invoke("127.0.0.1", server.port(), "touch " + marker, T))
            .isInstanceOfSatisfying(PeerException.class, e -> {
              assertThat(e.outcome()).isEqualTo(PeerOutcome.REFUSED);
              assertThat(e.getMessage()).contains("PERMISSION_DENIED").contains("KONTROL_ALLOW_INVOKE");
            });
        assertThat(marker).doesNotExist();
      }
    }

    @Test
    void whenEnabledRunsTheCommandAndReturnsItsOutput() throws Exception {
      PeerConfig on = config().allowInvoke(true).build();
      try (PeerServer server = PeerServer.start(on, StatusSource.none());
          PeerClient client = new PeerClient(on)) {
        InvokeResult r = client.invoke("127.0.0.1", server.port(), "echo hello; echo oops >&2; exit 3", T);
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.output()).contains("hello").contains("oops");
        assertThat(r.timedOut()).isFalse();
      }
    }

    @Test
    void isKilledWithItsWholeProcessGroupAtTheTimeout() throws Exception {
      PeerConfig on = config().allowInvoke(true).build();
      Path late = dir.resolve("late");
      try (PeerServer server = PeerServer.start(on, StatusSource.none());
          PeerClient client = new PeerClient(on)) {
        long t0 = System.nanoTime();
        InvokeResult r = client.invoke("127.0.0.1", server.port(),
            "(sleep 2; touch " + late + ") & sleep 30", Duration.ofMillis(300));
        assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(4_000);
        assertThat(r.timedOut()).isTrue();
        assertThat(r.exitCode()).isEqualTo(-1);
        // the background child was in the group: it never gets to touch the file
        org.awaitility.Awaitility.await().during(Duration.ofMillis(2_500)).atMost(Duration.ofSeconds(4))
            .until(() -> !Files.exists(late));
      }
    }

    @Test
    void keepsOnlyTheConfiguredAmountOfOutput() throws Exception {
      PeerConfig on = config().allowInvoke(true).invokeMaxOutput(1000).build();
      try (PeerServer server = PeerServer.start(on, StatusSource.none());
          PeerClient client = new PeerClient(on)) {
        InvokeResult r = client.invoke("127.0.0.1", server.port(), "head -c 200000 /dev/zero | tr '\\0' x", T);
        assertThat(r.exitCode()).isZero();
        assertThat(r.truncated()).isTrue();
        assertThat(r.output()).hasSize(1000);
      }
    }
  }

  @Test
  void statusCarriesTheAgentPartTheAutomatonStateVersionAndUptime() throws Exception {
    StatusSource agent = reply -> reply.setId("pod-1").setIp("10.0.0.1").setRecordJson("{\"id\":\"pod-1\"}")
        .addGroups(Group.newBuilder().setKey("/kontrol/default/nats").setLeader(true).setLeaderId("pod-1"));
    try (PeerServer server = PeerServer.start(config().build(), agent);
        PeerClient client = new PeerClient(config().build())) {
      StatusReply s = client.status("127.0.0.1", server.port(), T);
      assertThat(s.getId()).isEqualTo("pod-1");
      assertThat(s.getGroups(0).getLeader()).isTrue();
      assertThat(s.getAutomatonState()).isNotEmpty();
      assertThat(s.getVersion()).isNotEmpty();
      assertThat(s.getUptimeMs()).isGreaterThanOrEqualTo(0);
    }
  }
}
