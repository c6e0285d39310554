package io.kontrol.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerServer;
import io.kontrol.agent.rpc.StatusSource;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class CallbackCommandTest {

  @TempDir Path dir;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(Map<String, String> env, String... args) {
    var cli = KontrolCommand.commandLine(new KontrolCommand(env));
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  @Test
  void withoutPodsItIsAUsageErrorAndPrintsNoState() {
    assertThat(run(Map.of(), "callback", "nats")).isEqualTo(2);
    assertThat(err.toString()).contains("$PODS is empty");
    assertThat(out.toString()).isEmpty();
  }

  @Test
  void anUnreachableBrokerFailsWithNoNewState() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    Map<String, String> env = new HashMap<>();
    env.put("KONTROL_PORT", String.valueOf(closedPort));
    env.put("PODS", "[{\"app\":\"nats\",\"ip\":\"127.0.0.1\",\"payload\":{},\"seq\":1}]");
    assertThat(run(env, "callback", "nats", "--timeout", "2")).isEqualTo(1);
    assertThat(err.toString()).contains("127.0.0.1 NOT configured").contains("UNAVAILABLE");
    assertThat(out.toString()).isEmpty();
  }

  @Test
  void theStateIsPrintedWhenThePeerListIsUnchanged() throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("PODS", "[{\"app\":\"nats\",\"ip\":\"127.0.0.1\",\"nonce\":\"x\",\"payload\":{},\"seq\":1}]");
    String state = "{\"group\":\"nats\",\"peers\":[\"127.0.0.1\"],\"nonces\":{\"127.0.0.1\":\"x\"}}";
    env.put("STATE", state);
    assertThat(run(env, "callback", "nats")).isZero();
    assertThat(out.toString().trim()).isEqualTo(state);
  }

  @Test
  void aBrokerWhoseAutomatonIsDownIsAFailure() throws Exception {
    // a peer API answering, but no automaton behind its socket
    try (PeerServer server =
        PeerServer.start(PeerConfig.newBuilder().port(0).socket(dir.resolve("none")).build(), StatusSource.none())) {
      Map<String, String> env = new HashMap<>();
      env.put("KONTROL_PORT", String.valueOf(server.port()));
      env.put("PODS", "[{\"app\":\"nats\",\"ip\":\"127.0.0.1\",\"payload\":{},\"seq\":1}]");
      assertThat(run(env, "callback", "nats", "--timeout", "5")).isEqualTo(1);
      assertThat(err.toString()).contains("127.0.0.1 NOT configured");
      assertThat(out.toString()).isEmpty();
    }
  }
}
