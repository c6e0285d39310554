package io.kontrol.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

@Timeout(10)
class KontrolCommandTest {
  static final Map<String, String> GOOD =
      Map.of(
          "KONTROL_ETCD", "127.0.0.1:1",
          "KONTROL_ID", "p0",
          "KONTROL_IP", "127.0.0.2",
          "KONTROL_LABELS", "{\"app\":\"a\",\"role\":\"r\"}");

  record Run(int code, String out, String err) {}

  static Run run(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = KontrolCommand.commandLine(new KontrolCommand(env));
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void badLabelsExitTwoWithOneLineNamingTheVariable() {
    Run r = run(Map.of("KONTROL_ETCD", "x", "KONTROL_LABELS", "{\"app\":\"a\"}"));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).isEqualTo("kontrol: KONTROL_LABELS: missing \"role\"");
  }

  @Test
  void badModeFlagOnRunExitsTwo() {
    Run r = run(GOOD, "run", "--mode", "slave,boss");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).startsWith("kontrol: KONTROL_MODE: unknown mode \"boss\"").doesNotContain("\n");
  }

  @Test
  void nonJsonLabelsFromFlagExitTwo() {
    Run r = run(GOOD, "-d", "--labels", "app=x");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("kontrol: KONTROL_LABELS: not valid JSON");
  }

  @Test
  void unknownFlagIsAUsageError() {
    Run r = run(GOOD, "run", "--bogus");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--bogus");
  }

  @Test
  void helpListsRun() {
    Run r = run(GOOD, "--help");
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("run").contains("--damper");
  }
}
