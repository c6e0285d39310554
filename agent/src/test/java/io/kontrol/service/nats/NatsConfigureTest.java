package io.kontrol.service.nats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kontrol.agent.cli.ConfigureState;
import io.kontrol.agent.cli.InAgentConfigure;
import io.kontrol.agent.identity.Annotations;
import io.kontrol.automaton.client.AutomatonClient;
import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 * The NATS pod's configure run inside the agent, against a real nats-server 2.9 under a real
 * supervisord on loopback: the image's configure state (images/base/configure-in-agent, through
 * socat) hands the input to the agent's socket and exits with the command's code and output. The
 * first run starts the broker through supervisorctl; a new name is a SIGHUP straight to the pid in
 * the pid file (no supervisorctl, no client dropped); a pid file that names another program is
 * not signalled; a leafnode change restarts the broker; a template that does not render or a
 * configuration nats-server refuses changes nothing and is reported as config_error.
 */
@Timeout(180)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class NatsConfigureTest {

  @TempDir static Path dir;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern INFO_CLUSTER = Pattern.compile("\"cluster\":\"([^\"]*)\"");

  /** The image's template's variables, on loopback ports of the test's own. */
  private static final String TEMPLATE =
      String.join(
          "\n",
          "listen: 127.0.0.1:{{ env.NATS_PORT }}",
          "http: 127.0.0.1:{{ env.NATS_HTTP_PORT }}",
          "pid_file: \"{{ env.NATS_DIR }}/nats-server.pid\"",
          "cluster {",
          "  name: \"{{ name or group }}\"",
          "  listen: 127.0.0.1:{{ env.NATS_CLUSTER_PORT }}",
          "  routes: [",
          "{%- for peer in peers %}{% if peer != ip %}",
          "    nats-route://{{ peer }}:4244{% endif %}",
          "{%- endfor %}",
          "{%- for route in routes %}",
          "    \"{{ route }}\"",
          "{%- endfor %}",
          "  ]",
          "}",
          "{%- if leafnodes %}",
          "leafnodes {",
          "  remotes: [",
          "{%- for remote in leafnodes %}",
          "    { url: \"{{ remote.url }}\" }",
          "{%- endfor %}",
          "  ]",
          "}",
          "{%- endif %}",
          "");

  private Process supervisord;
  private InAgentConfigure configure;
  private Path conf;
  private Path pidFile;
  private Path payload;
  private Path annotations;
  private Path ctlLog;
  private Path socket;
  private String supervisorctl;
  private int natsPort;
  private int httpPort;
  private String command;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @BeforeAll
  void start() throws Exception {
    natsPort = freePort();
    httpPort = freePort();
    int clusterPort = freePort();
    conf = dir.resolve("nats.conf");
    pidFile = dir.resolve("nats-server.pid");
    Path supervisordConf = dir.resolve("supervisord.conf");
    Files.writeString(supervisordConf, String.join("\n",
        "[unix_http_server]",
        "file=" + dir.resolve("supervisor.sock"),
        "[supervisord]",
        "nodaemon=true",
        "logfile=" + dir.resolve("supervisord.log"),
        "pidfile=" + dir.resolve("supervisord.pid"),
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "[supervisorctl]",
        "serverurl=unix://" + dir.resolve("supervisor.sock"),
        "; as in the image: started by the first configure, reloaded with SIGHUP afterwards",
        "[program:nats-server]",
        "command=/usr/sbin/nats-server -c " + conf,
        "directory=" + dir,
        "autostart=false",
        "autorestart=true",
        "startsecs=1",
        "stopwaitsecs=15",
        "stdout_logfile=" + dir.resolve("nats-server.log"),
        "redirect_stderr=true",
        ""));
    supervisord =
        new ProcessBuilder("supervisord", "-n", "-c", supervisordConf.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("supervisord.out").toFile())
            .start();
    // supervisorctl, with every call it is given logged, to tell which way a reload went
    ctlLog = dir.resolve("supervisorctl.calls");
    Path ctl = dir.resolve("supervisorctl");
    Files.writeString(ctl, "#!/bin/sh\necho \"$*\" >> " + ctlLog + "\nexec supervisorctl -c " + supervisordConf + " \"$@\"\n");
    ctl.toFile().setExecutable(true);
    supervisorctl = "supervisorctl -c " + supervisordConf;
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
        .until(() -> sh(supervisorctl + " status nats-server").contains("STOPPED"));

    Path template = Files.writeString(dir.resolve("nats.conf.j2"), TEMPLATE);
    annotations = dir.resolve("annotations.json");
    Annotations.write(annotations, Map.of());
    payload = dir.resolve("payload.json");
    Files.writeString(payload, "{}");
    socket = dir.resolve("configure.sock");
    command = "kontrol nats configure --conf " + conf + " --template " + template + " --pid-file " + pidFile
        + " --nats-server /usr/sbin/nats-server --supervisorctl " + ctl;
    Map<String, String> env = new HashMap<>();
    env.put("NATS_PORT", "" + natsPort);
    env.put("NATS_HTTP_PORT", "" + httpPort);
    env.put("NATS_CLUSTER_PORT", "" + clusterPort);
    env.put("NATS_DIR", dir.toString());
    env.put("KONTROL_IP", "127.0.0.1");
    env.put(InAgentConfigure.COMMAND_VARIABLE, command);
    env.put(InAgentConfigure.SOCKET_VARIABLE, socket.toString());
    env.put(Annotations.FILE_VARIABLE, annotations.toString());
    env.put("KONTROL_PAYLOAD", payload.toString());
    configure = InAgentConfigure.start(env).orElseThrow();
  }

  @AfterAll
  void stop() throws Exception {
    if (configure != null) {
      configure.close();
    }
    if (supervisord != null) {
      sh(supervisorctl + " stop nats-server");
      supervisord.destroy(); // SIGTERM: supervisord stops its programs and exits
      if (!supervisord.waitFor(30, TimeUnit.SECONDS)) {
        supervisord.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
  }

  private static String sh(String script) throws Exception {
    return ShellCommand.of(script).mergeOutput().run(Duration.ofSeconds(60), Capture.tail(8192), Capture.none()).stdout().text();
  }

  /** The image's configure state as the automaton runs it: {@code $INPUT} in its environment. */
  private ShellCommand.Result state(String input) throws Exception {
    return ConfigureState.run(command, socket, input);
  }

  private static String input(String config) {
    return "{\"group\":\"nats\",\"peers\":[\"127.0.0.1\"]" + config + "}";
  }

  /** The broker's pid as supervisord knows it. */
  private long brokerPid() throws Exception {
    return Long.parseLong(sh(supervisorctl + " pid nats-server").strip());
  }

  /** The cluster name the broker tells a new client in its INFO (what a reload changes; /varz keeps the first). */
  private String clusterName() throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", natsPort), 2000);
      s.setSoTimeout(2000);
      String info = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
      Matcher m = INFO_CLUSTER.matcher(String.valueOf(info));
      return m.find() ? m.group(1) : "?no cluster in " + info;
    }
  }

  private JsonNode varz() throws Exception {
    HttpResponse<String> r =
        http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/varz")).timeout(Duration.ofSeconds(5)).build(),
            HttpResponse.BodyHandlers.ofString());
    return JSON.readTree(r.body());
  }

  private List<String> ctlCalls() throws IOException {
    return Files.exists(ctlLog) ? Files.readAllLines(ctlLog) : List.of();
  }

  @Test
  @Order(1)
  void theFirstConfigureRunsInTheAgentAndStartsTheBroker() throws Exception {
    ShellCommand.Result r = state(input(""));
    String out = r.stdout().text();
    assertThat(r.exitCode()).as(out).isZero();
    assertThat(out).contains("configure: nats-server started with " + conf).doesNotContain("running it here");
    assertThat(ctlCalls()).contains("start nats-server");
    await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> clusterName().equals("nats"));
    assertThat(JSON.readTree(Files.readString(payload)).has("config_error")).isFalse();
  }

  @Test
  @Order(2)
  void aNewNameIsASighupToThePidInThePidFileWithoutSupervisorctlAndNoClientDropped() throws Exception {
    long pid = brokerPid();
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(pidFile));
    assertThat(Files.readString(pidFile).strip()).isEqualTo("" + pid);
    String loaded = varz().path("config_load_time").asText();
    int calls = ctlCalls().size();
    AtomicInteger disconnects = new AtomicInteger();
    Options options =
        new Options.Builder().server("nats://127.0.0.1:" + natsPort)
            .connectionListener((c, e) -> {
              if (e == ConnectionListener.Events.DISCONNECTED) {
                disconnects.incrementAndGet();
              }
            })
            .build();
    try (Connection client = Nats.connect(options)) {
      ShellCommand.Result r = state(input(",\"name\":\"CLUSTER_A\",\"routes\":[\"nats-route://127.0.0.1:1\"]"));
      String out = r.stdout().text();
      assertThat(r.exitCode()).as(out).isZero();
      assertThat(out).contains("configure: nats-server reloaded with " + conf);
      assertThat(Files.readString(conf)).contains("name: \"CLUSTER_A\"").contains("\"nats-route://127.0.0.1:1\"");
      await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> clusterName().equals("CLUSTER_A"));
      assertThat(varz().path("config_load_time").asText()).isNotEqualTo(loaded);
      assertThat(brokerPid()).as("reloaded, not restarted").isEqualTo(pid);
      assertThat(ctlCalls()).as("no supervisorctl for a reload").hasSize(calls);
      client.flush(Duration.ofSeconds(5));
      assertThat(client.getStatus()).isEqualTo(Connection.Status.CONNECTED);
      assertThat(disconnects).hasValue(0);
    }
    System.out.printf("configure in the agent (render, nats-server -t, SIGHUP), through the state script%n");
  }

  @Test
  @Order(3)
  void aPidFileThatNamesAnotherProgramIsNotSignalledAndTheReloadGoesThroughSupervisorctl() throws Exception {
    long pid = brokerPid();
    String real = Files.readString(pidFile);
    // a broker that died left its pid behind, and the pid now belongs to another program
    Process other = new ProcessBuilder("sleep", "120").start();
    try {
      Files.writeString(pidFile, other.pid() + "\n");
      ShellCommand.Result r = state(input(",\"name\":\"CLUSTER_B\""));
      String out = r.stdout().text();
      assertThat(r.exitCode()).as(out).isZero();
      assertThat(out).contains("configure: nats-server reloaded with " + conf);
      assertThat(other.isAlive()).as("the other program got no SIGHUP").isTrue();
      assertThat(ctlCalls()).last().isEqualTo("signal HUP nats-server");
      await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> clusterName().equals("CLUSTER_B"));
      assertThat(brokerPid()).isEqualTo(pid);
    } finally {
      other.destroy();
      Files.writeString(pidFile, real);
    }
  }

  @Test
  @Order(4)
  void aTemplateThatDoesNotRenderOrThatNatsServerRefusesChangesNothingAndIsReported() throws Exception {
    String before = Files.readString(conf);
    String loaded = varz().path("config_load_time").asText();
    int calls = ctlCalls().size();
    long pid = brokerPid();
    // the agent keeps KONTROL_ANNOTATIONS_FILE current; each run reads it
    for (String bad : List.of("cluster {\n  name: {{ name or group \n}\n", "listen: 127.0.0.1:{{ env.NATS_PORT }}\ncluster {\n  name: x\n")) {
      Annotations.write(annotations, Map.of(NatsConfigureCommand.ANNOTATION, bad));
      ShellCommand.Result r = state(input(",\"name\":\"CLUSTER_C\""));
      String out = r.stdout().text();
      assertThat(r.exitCode()).as(out).isEqualTo(1);
      assertThat(out).contains("annotation " + NatsConfigureCommand.ANNOTATION)
          .contains("configure: " + conf + " NOT changed, nats-server keeps its running configuration");
      assertThat(Files.readString(conf)).isEqualTo(before);
      assertThat(JSON.readTree(Files.readString(payload)).path("config_error").asText()).contains("annotation " + NatsConfigureCommand.ANNOTATION);
    }
    // input that is not JSON: refused the same way
    Annotations.write(annotations, Map.of());
    ShellCommand.Result notJson = state("{not json");
    assertThat(notJson.exitCode()).as(notJson.stdout().text()).isEqualTo(1);
    assertThat(notJson.stdout().text()).contains("--vars is not a JSON object").contains("NOT changed");
    assertThat(Files.readString(conf)).isEqualTo(before);
    assertThat(varz().path("config_load_time").asText()).as("not reloaded").isEqualTo(loaded);
    assertThat(brokerPid()).isEqualTo(pid);
    assertThat(ctlCalls()).hasSize(calls);
    assertThat(clusterName()).isEqualTo("CLUSTER_B");

    // the template fixed: applied, and the error cleared
    ShellCommand.Result good = state(input(",\"name\":\"CLUSTER_C\""));
    assertThat(good.exitCode()).as(good.stdout().text()).isZero();
    assertThat(JSON.readTree(Files.readString(payload)).has("config_error")).isFalse();
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> clusterName().equals("CLUSTER_C"));
  }

  @Test
  @Order(5)
  void aLeafnodeChangeRestartsTheBrokerWhichCannotReloadIt() throws Exception {
    long pid = brokerPid();
    int leafPort = freePort(); // nothing listens: the broker keeps dialling, the restart is what matters
    ShellCommand.Result r =
        state(input(",\"name\":\"CLUSTER_C\",\"leafnodes\":[{\"url\":\"nats-leaf://127.0.0.1:" + leafPort + "\"}]"));
    String out = r.stdout().text();
    assertThat(r.exitCode()).as(out).isZero();
    assertThat(out).contains("configure: nats-server restarted with " + conf + " (its leafnode remotes changed");
    assertThat(ctlCalls()).contains("status nats-server").last().isEqualTo("restart nats-server");
    await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> clusterName().equals("CLUSTER_C"));
    assertThat(brokerPid()).isNotEqualTo(pid);
  }

  @Test
  @Order(6)
  void noInputOnTheSocketExitsTwo() throws Exception {
    assertThat(new AutomatonClient(socket).send("", Duration.ofSeconds(10))).startsWith("2\n").contains("no input");
  }
}
