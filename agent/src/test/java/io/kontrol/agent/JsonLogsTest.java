package io.kontrol.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kontrol.agent.testing.EtcdCluster;
import io.kontrol.automaton.logging.LogFormat;
import io.kontrol.automaton.testing.AutomatonProcess;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.MDC;

/** KONTROL_LOG_FORMAT=json: every line the agent and the automaton write is one JSON object. */
@Timeout(120)
class JsonLogsTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  @TempDir Path dir;
  static final ObjectMapper JSON = new ObjectMapper();
  static final String NASTY = "quote \" backslash \\ tab \t newline \n second line, non-ASCII é 日本 ☃, ctrl \u0001";

  /** Parses every line; each must hold timestamp, level, logger and message. */
  static List<JsonNode> parseAll(String text) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String line : text.split("\n", -1)) {
      if (line.isEmpty()) {
        continue;
      }
      JsonNode n = JSON.readTree(line); // throws on anything that is not one JSON value
      assertThat(n.isObject()).as(line).isTrue();
      assertThat(n.fieldNames()).toIterable().as(line).contains("timestamp", "level", "loggerName", "formattedMessage");
      out.add(n);
    }
    return out;
  }

  @Test
  void quotesNewlinesNonAsciiAndExceptionsStayOneValidLine() throws Exception {
    LoggerContext ctx = (LoggerContext) org.slf4j.LoggerFactory.getILoggerFactory();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    OutputStreamAppender<ILoggingEvent> a = new OutputStreamAppender<>();
    a.setContext(ctx);
    a.setEncoder(LogFormat.JSON.encoder(ctx, null));
    a.setOutputStream(bytes);
    a.start();
    ch.qos.logback.classic.Logger log = ctx.getLogger("io.kontrol.test.json");
    log.setAdditive(false);
    log.setLevel(ch.qos.logback.classic.Level.INFO);
    log.addAppender(a);
    ctx.putProperty("pod", "nats-\"0\"");
    MDC.put("group", "default/nats");
    try {
      log.info("callback failed reason={} stderr={}", "exit 3", NASTY);
      log.warn(NASTY, new IllegalStateException(NASTY, new java.io.IOException("cause \"é\"\nnext")));
      log.error(null);
    } finally {
      MDC.remove("group");
      ctx.putProperty("pod", null);
      log.detachAppender(a);
    }
    List<JsonNode> lines = parseAll(bytes.toString(StandardCharsets.UTF_8));
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0).get("formattedMessage").asText()).isEqualTo("callback failed reason=exit 3 stderr=" + NASTY);
    assertThat(lines.get(0).get("mdc").get("group").asText()).isEqualTo("default/nats");
    assertThat(lines.get(0).get("context").get("properties").get("pod").asText()).isEqualTo("nats-\"0\"");
    assertThat(lines.get(1).get("throwable").get("message").asText()).isEqualTo(NASTY);
    assertThat(lines.get(1).get("throwable").get("cause").get("message").asText()).isEqualTo("cause \"é\"\nnext");
  }

  @Test
  void anAgentRunWithFailingCallbacksAndABadPayloadWritesOnlyJsonLines() throws Exception {
    String app = Pods.app("json");
    CallbackLog cb = new CallbackLog(dir);
    cb.mode("fail");
    Path script = Files.writeString(dir.resolve("nasty.sh"), "printf '%s\\n' '" + NASTY.replace("'", "") + "' >&2; exit 3\n");
    Path payload = Files.writeString(dir.resolve("payload.json"), "{not json \"é\"");
    Map<String, String> env = Pods.env(ETCD, app, app, "j0", "master,slave");
    env.put("KONTROL_CALLBACK", "sh " + script);
    env.put("KONTROL_PAYLOAD", payload.toString());
    env.put("KONTROL_HTTP_PORT", "0");
    env.put("KONTROL_PORT", "0");
    env.put("KONTROL_SOCKET", dir.resolve("none.sock").toString());
    env.put("KONTROL_LOG_FORMAT", "json");
    Path err = dir.resolve("agent.err");
    ProcessBuilder pb =
        new ProcessBuilder(AutomatonProcess.javaBin(), "-cp", AutomatonProcess.classpath(), "io.kontrol.agent.cli.KontrolCommand", "run")
            .redirectErrorStream(true) // logback-test.xml logs to stdout, the agent's own set-up (LogConfigurator) to stderr
            .redirectOutput(err.toFile());
    pb.environment().clear();
    pb.environment().putAll(env);
    Process p = pb.start();
    try {
      await().atMost(Duration.ofSeconds(30))
          .failFast("the agent exited", () -> !p.isAlive())
          .conditionEvaluationListener(c -> { })
          .alias("a failed callback in " + err)
          .until(() -> Files.readString(err).contains("callback failed"));
      Files.writeString(payload, "[1, 2"); // a second bad payload, while running
      await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(err).split("payload", -1).length > 2);
    } catch (org.awaitility.core.ConditionTimeoutException | org.awaitility.core.TerminalFailureException e) {
      throw new AssertionError(e.getMessage() + "; the agent wrote: " + Files.readString(err), e);
    } finally {
      p.destroy(); // SIGTERM: leaves its groups, logs and exits
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
    }
    List<JsonNode> lines = parseAll(Files.readString(err));
    assertThat(lines).anySatisfy(n -> {
      assertThat(n.get("formattedMessage").asText()).contains("callback failed", "quote \\\" backslash".substring(0, 5), "日本");
      assertThat(n.get("level").asText()).isEqualTo("WARN");
      assertThat(n.get("mdc").get("group").asText()).isEqualTo("default/" + app);
      assertThat(n.get("context").get("properties").get("pod").asText()).isEqualTo("j0");
    });
    assertThat(lines).anySatisfy(n -> assertThat(n.get("formattedMessage").asText()).contains("agent stopped"));
  }

  @Test
  void anAutomatonRunWithAFailingScriptWritesOnlyJsonLinesWithItsState() throws Exception {
    Path manifest = Files.writeString(dir.resolve("m.yml"), String.join("\n",
        "initial: setup",
        "terminal: shutdown",
        "states:",
        "- tag: setup",
        "  shell: printf '%s\\n' 'line with \"quotes\" and é 日本'; echo 'a second line'; exit 7",
        "  next: [ready, shutdown]",
        "- tag: ready",
        "  next: [shutdown]",
        "- tag: shutdown",
        ""));
    Path socket = dir.resolve("sock");
    ProcessBuilder pb = new ProcessBuilder(AutomatonProcess.javaBin(), "-cp", AutomatonProcess.classpath(),
        "io.kontrol.automaton.cli.AutomatonCommand", manifest.toString(), "-s", socket.toString(), "-l", "-")
        .redirectErrorStream(true).redirectOutput(dir.resolve("automaton.out").toFile());
    pb.environment().put("KONTROL_LOG_FORMAT", "json");
    Process p = pb.start();
    try {
      await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(dir.resolve("automaton.out")).contains("a second line"));
      assertThat(new io.kontrol.automaton.client.AutomatonClient(socket).send("GOTO nowhere", Duration.ofSeconds(5))).startsWith("KO");
    } finally {
      p.destroy();
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
    }
    List<JsonNode> lines = parseAll(Files.readString(dir.resolve("automaton.out")));
    assertThat(lines).anySatisfy(n -> {
      assertThat(n.get("formattedMessage").asText()).contains("line with \"quotes\" and é 日本");
      assertThat(n.get("context").get("properties").get("state").asText()).isEqualTo("setup");
    });
  }

  @Test
  void anUnknownFormatIsRefusedWithExitTwo() throws Exception {
    ProcessBuilder agent = new ProcessBuilder(AutomatonProcess.javaBin(), "-cp", AutomatonProcess.classpath(),
        "io.kontrol.agent.cli.KontrolCommand", "--help").redirectErrorStream(true);
    agent.environment().put("KONTROL_LOG_FORMAT", "xml");
    Process a = agent.start();
    String out = new String(a.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(a.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(a.exitValue()).isEqualTo(2);
    assertThat(out).contains("KONTROL_LOG_FORMAT: must be text or json, not \"xml\"");

    Path manifest = Files.writeString(dir.resolve("m.yml"), "initial: a\nterminal: a\nstates:\n- tag: a\n");
    ProcessBuilder automaton = new ProcessBuilder(AutomatonProcess.javaBin(), "-cp", AutomatonProcess.classpath(),
        "io.kontrol.automaton.cli.AutomatonCommand", manifest.toString(), "-s", dir.resolve("s").toString(), "-l", "-")
        .redirectErrorStream(true);
    automaton.environment().put("KONTROL_LOG_FORMAT", "xml");
    Process m = automaton.start();
    String mout = new String(m.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(m.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(m.exitValue()).isEqualTo(2);
    assertThat(mout).contains("KONTROL_LOG_FORMAT: must be text or json");
  }
}
