package io.kontrol.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import io.kontrol.automaton.testing.AutomatonProcess;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;

/** kontrol's logging set up in code ({@link LogConfigurator}), and a configuration file winning over it. */
@Timeout(60)
class LogConfiguratorTest {
  @TempDir Path dir;

  @Test
  void oneLinePerEventOnStderrKontrolFromInfoTheRestFromWarn() {
    LoggerContext ctx = new LoggerContext();
    LogConfigurator.apply(ctx);
    ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    @SuppressWarnings("unchecked")
    ConsoleAppender<ILoggingEvent> err = (ConsoleAppender<ILoggingEvent>) root.getAppender("ERR");
    assertThat(err).isNotNull();
    assertThat(err.isStarted()).isTrue();
    assertThat(err.getTarget()).isEqualTo("System.err");
    assertThat(ctx.getLogger("io.kontrol.agent.Agent").isInfoEnabled()).isTrue();
    assertThat(ctx.getLogger("io.kontrol.agent.Agent").isDebugEnabled()).isFalse();
    assertThat(ctx.getLogger("io.netty.channel").isInfoEnabled()).isFalse();
    assertThat(ctx.getLogger("io.netty.channel").isWarnEnabled()).isTrue();
    LoggingEvent e = new LoggingEvent("x", ctx.getLogger("io.kontrol.agent.Agent"), Level.INFO, "agent started pod={}", null,
        new Object[] {"p-1"});
    e.setTimeStamp(1_796_145_472_055L);
    assertThat(new String(err.getEncoder().encode(e), StandardCharsets.UTF_8))
        .isEqualTo("2026-12-01T17:17:52.055Z INFO  agent started pod=p-1" + System.lineSeparator());
    ctx.stop();
  }

  @Test
  void aConfigurationFileWins() {
    // the tests' logback-test.xml is on this class path: logback goes on to read it
    assertThat(LogConfigurator.fileGiven()).isTrue();
    LoggerContext ctx = new LoggerContext();
    LogConfigurator c = new LogConfigurator();
    c.setContext(ctx);
    assertThat(c.configure(ctx)).isEqualTo(Configurator.ExecutionStatus.INVOKE_NEXT_IF_ANY);
    assertThat(ctx.getLogger(Logger.ROOT_LOGGER_NAME).iteratorForAppenders().hasNext()).isFalse();
    ctx.stop();
  }

  /** A real {@code kontrol} JVM without the tests' files: logback finds the set-up through its service file. */
  @Test
  void aKontrolProcessLogsItsLinesToStderr() throws Exception {
    String cp = Arrays.stream(AutomatonProcess.classpath().split(File.pathSeparator))
        .filter(e -> !e.endsWith("test-classes") && !e.endsWith("test-classes/"))
        .collect(Collectors.joining(File.pathSeparator));
    Files.writeString(dir.resolve("supervisord.conf"), "[supervisord]\n");
    ProcessBuilder pb = new ProcessBuilder(AutomatonProcess.javaBin(), "-cp", cp, "io.kontrol.agent.cli.KontrolCommand",
        "boot", "--env-file", dir.resolve("boot.env").toString())
        .redirectOutput(dir.resolve("out").toFile())
        .redirectError(dir.resolve("err").toFile());
    pb.environment().clear();
    pb.environment().putAll(Map.of("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"),
        "KONTROL_ID", "p-1", "KONTROL_IP", "10.0.0.1", "KONTROL_LABELS", "{\"app\":\"a\",\"role\":\"r\"}",
        "KONTROL_ANNOTATIONS", "{}", "AWS_EC2_METADATA_DISABLED", "true",
        "KONTROL_SUPERVISORD_CONF", dir.resolve("supervisord.conf").toString(),
        "KONTROL_TELEGRAF_CONF", dir.resolve("telegraf.conf").toString(),
        "KONTROL_PODINFO", dir.resolve("podinfo").toString()));
    Process p = pb.start();
    assertThat(p.waitFor(45, TimeUnit.SECONDS)).isTrue();
    String err = Files.readString(dir.resolve("err"));
    assertThat(p.exitValue()).as(err).isZero();
    assertThat(Files.readString(dir.resolve("out"))).isEmpty();
    assertThat(err.lines().filter(l -> l.contains("boot: prepared in")))
        .singleElement()
        .asString()
        .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO  boot: prepared in \\d+ ms, .*");
    // nothing at DEBUG, nothing from libraries below WARN, no logback status noise
    assertThat(err).doesNotContain("DEBUG").doesNotContain("|-INFO").doesNotContain("logback");
  }
}
