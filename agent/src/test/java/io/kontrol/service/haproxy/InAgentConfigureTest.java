package io.kontrol.service.haproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kontrol.agent.cli.ConfigureState;
import io.kontrol.agent.cli.InAgentConfigure;
import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.identity.Annotations;
import io.kontrol.automaton.client.AutomatonClient;
import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HAProxy pod's configure run inside the agent, against a real HAProxy 2.6 master on loopback:
 * the image's configure state (images/base/configure-in-agent, through socat) hands the input to the
 * agent's socket and exits with the command's code and output; the payload holds the same outcome
 * as from the command run by hand; a bad template or bad input changes nothing.
 */
@Timeout(120)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class InAgentConfigureTest {

  @TempDir static Path dir;

  private static final String TEMPLATE = HaproxyProcess.TEMPLATE;


  private HaproxyProcess haproxy;
  private InAgentConfigure configure;
  private Path annotations;
  private Path payload;
  private Path socket;
  private String command;

  @BeforeAll
  void start() throws Exception {
    haproxy = new HaproxyProcess(dir);
    Map<String, String> templateEnv =
        Map.of(
            "PROXY_PORT", String.valueOf(haproxy.proxyPort),
            "PORT_A", String.valueOf(haproxy.webA),
            "PORT_B", String.valueOf(haproxy.webB));
    // HAProxy runs (as after the pod's setup state) with one host
    Outcome started =
        haproxy.configurator(new CopyOnWriteArrayList<>())
            .configure(Hosts.canonical(Map.of("web", List.of("127.0.0.1"))), Optional.of(TEMPLATE), templateEnv);
    assertThat(started.ok()).as(started.logLine()).isTrue();

    annotations = dir.resolve("annotations.json");
    Annotations.write(annotations, Map.of(Configurator.ANNOTATION, TEMPLATE));
    payload = dir.resolve("payload.json");
    Files.writeString(payload, "{}");
    socket = dir.resolve("configure.sock");
    Map<String, String> env = new HashMap<>(templateEnv);
    command = "kontrol haproxy configure --dir " + dir + " --base " + haproxy.base + " --socket " + haproxy.socket
        + " --log " + haproxy.log + " --start false";
    env.put(InAgentConfigure.COMMAND_VARIABLE, command);
    env.put(InAgentConfigure.SOCKET_VARIABLE, socket.toString());
    env.put(Annotations.FILE_VARIABLE, annotations.toString());
    env.put("KONTROL_PAYLOAD", payload.toString());
    env.put("KONTROL_EIP", "203.0.113.7");
    configure = InAgentConfigure.start(env).orElseThrow();
  }

  @AfterAll
  void stop() throws Exception {
    if (configure != null) {
      configure.close();
    }
    if (haproxy != null) {
      haproxy.close();
    }
  }

  /** The image's configure state as the automaton runs it: {@code $INPUT} in its environment. */
  private ShellCommand.Result state(String input) throws Exception {
    return ConfigureState.run(command, socket, input);
  }

  private String live() throws Exception {
    return Files.readString(haproxy.live, StandardCharsets.UTF_8);
  }

  @Test
  @Order(1)
  void theConfigureStateRunsInTheAgentAndReloadsWithTheSameOutcomeInThePayload() throws Exception {
    int reloads = haproxy.proc().reloads();
    ShellCommand.Result r = state("{\"hosts\":{\"web\":[\"127.0.0.2\",\"127.0.0.1\"]}}");
    String out = r.stdout().text();
    assertThat(r.exitCode()).as(out).isZero();
    assertThat(out).contains("configure ok mode=reload").doesNotContain("running it here");
    assertThat(live()).contains("server web-1 127.0.0.1:" + haproxy.webA).contains("server web-2 127.0.0.2:" + haproxy.webB);
    assertThat(haproxy.proc().reloads()).isEqualTo(reloads + 1);
    String p = Files.readString(payload);
    assertThat(p).contains("\"status\":\"ok\"").contains("\"mode\":\"reload\"").contains("\"eip\":\"203.0.113.7\"");
    System.out.printf("configure in the agent, through the state script: %d ms%n", r.took().toMillis());
  }

  @Test
  @Order(2)
  void theSameHostsAgainAreANoop() throws Exception {
    ShellCommand.Result r = state("{\"hosts\":{\"web\":[\"127.0.0.1\",\"127.0.0.2\"]}}");
    assertThat(r.exitCode()).as(r.stdout().text()).isZero();
    assertThat(r.stdout().text()).contains("configure ok mode=noop");
  }

  @Test
  @Order(3)
  void aTemplateThatDoesNotRenderExitsOneAndChangesNothing() throws Exception {
    String before = live();
    int reloads = haproxy.proc().reloads();
    // the agent keeps KONTROL_ANNOTATIONS_FILE current; each run reads it
    Annotations.write(annotations, Map.of(Configurator.ANNOTATION, "frontend proxy\n{% for key in hosts %}\n"));
    try {
      ShellCommand.Result r = state("{\"hosts\":{\"web\":[\"127.0.0.1\"]}}");
      assertThat(r.exitCode()).as(r.stdout().text()).isEqualTo(1);
      assertThat(r.stdout().text()).contains("configure FAILED stage=render");
      assertThat(live()).isEqualTo(before);
      assertThat(haproxy.proc().reloads()).isEqualTo(reloads);
      assertThat(Files.readString(payload)).contains("\"status\":\"error\"").contains("\"stage\":\"render\"");
    } finally {
      Annotations.write(annotations, Map.of(Configurator.ANNOTATION, TEMPLATE));
    }
  }

  @Test
  @Order(4)
  void badInputExitsTwoWithTheReason() throws Exception {
    ShellCommand.Result r = state("{not json");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.stdout().text()).contains("the input is not JSON");
    // straight to the socket: an empty line is no input
    assertThat(new AutomatonClient(socket).send("", Duration.ofSeconds(10))).startsWith("2\n").contains("no input");
  }

  @Test
  @Order(5)
  void onlyKontrolsOwnConfigureCommandIsAccepted() {
    for (String other : List.of("kontrol callback haproxy", "kontrol callback nats", "sh -c 'kontrol haproxy configure'", "/home/kontrol/configure")) {
      assertThatThrownBy(() -> InAgentConfigure.start(Map.of(InAgentConfigure.COMMAND_VARIABLE, other)))
          .isInstanceOf(ConfigException.class)
          .hasMessageStartingWith("KONTROL_CONFIGURE: must be 'kontrol haproxy configure");
    }
  }

  @Test
  @Order(6)
  void withoutTheVariableNothingListens() throws Exception {
    assertThat(InAgentConfigure.start(Map.of())).isEmpty();
  }
}
