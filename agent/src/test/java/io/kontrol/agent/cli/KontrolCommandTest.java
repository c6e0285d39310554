package io.kontrol.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

@Timeout(10)
class KontrolCommandTest {
  @TempDir Path dir;

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
    // as main() builds it
    CommandLine cl = KontrolCommand.forArgs(new KontrolCommand(env), args);
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

  private static Map<String, String> good(String... more) {
    Map<String, String> env = new HashMap<>(GOOD);
    env.put("KONTROL_PORT", "0");
    for (int i = 0; i < more.length; i += 2) {
      env.put(more[i], more[i + 1]);
    }
    return env;
  }

  @Test
  void anUnreadableTokenFileExitsTwoWithOneLineAsForPeer() {
    Map<String, String> env = good("KONTROL_TOKEN_FILE", "/nonexistent/kontrol/token");
    for (String[] args : new String[][] {{"run"}, {}}) {
      Run r = run(env, args);
      assertThat(r.code()).as("kontrol %s", String.join(" ", args)).isEqualTo(2);
      assertThat(r.err().strip())
          .startsWith("kontrol: KONTROL_TOKEN_FILE: /nonexistent/kontrol/token cannot be read")
          .doesNotContain("\n");
    }
    Run peer = run(env, "peer", "127.0.0.1", "status");
    assertThat(peer.code()).isEqualTo(2);
    assertThat(peer.err().strip()).startsWith("kontrol: KONTROL_TOKEN_FILE: ");
  }

  @Test
  void halfSetTlsExitsTwoWithOneLineNamingTheMissingVariable() throws Exception {
    Path cert = Files.writeString(dir.resolve("cert.pem"), "not read yet");
    Run r = run(good("KONTROL_TLS_CERT", cert.toString()), "run");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).startsWith("kontrol: KONTROL_TLS_KEY: not set").doesNotContain("\n");

    Run unreadable = run(good("KONTROL_TLS_CERT", cert.toString(), "KONTROL_TLS_KEY", dir.resolve("absent").toString()), "run");
    assertThat(unreadable.code()).isEqualTo(2);
    assertThat(unreadable.err().strip()).isEqualTo("kontrol: KONTROL_TLS_KEY: " + dir.resolve("absent") + " cannot be read");
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

  @Test
  void helpListsEverySubcommandInOrder() {
    Run r = run(GOOD, "--help");
    assertThat(r.code()).isZero();
    assertThat(r.out()).containsSubsequence("  run ", "  render ", "  peer ", "  status ", "  config ", "  identity ",
        "  boot ", "  callback ", "  haproxy ", "  kafka ");
  }

  /** The subcommand a parse ended in, as names from the top ({@code [kontrol, peer, status]}). */
  static List<String> parsed(CommandLine cl, String... args) {
    try {
      return cl.parseArgs(args).asCommandLineList().stream().map(c -> c.getCommandName()).toList();
    } catch (CommandLine.ParameterException e) {
      return List.of("error: " + e.getMessage());
    }
  }

  @Test
  void aProcessBuildsOnlyTheSubcommandItRunsAndParsesAsTheWholeCommandLineDoes() {
    KontrolCommand top = new KontrolCommand(GOOD);
    assertThat(KontrolCommand.forArgs(top, "run", "--etcd", "x").getSubcommands().keySet()).containsExactly("run");
    assertThat(KontrolCommand.forArgs(top, "peer", "127.0.0.1", "status").getSubcommands().keySet()).containsExactly("peer");
    assertThat(KontrolCommand.forArgs(top, "--help").getSubcommands()).hasSize(KontrolCommand.SUBCOMMANDS.size());
    assertThat(KontrolCommand.forArgs(top).getSubcommands()).hasSize(KontrolCommand.SUBCOMMANDS.size());
    String[][] cases = {
      {},
      {"run"},
      {"run", "--etcd", "x", "--ttl", "5"},
      {"-d", "--id", "p1"},
      {"--id", "boot"}, // an option's value that is a subcommand's name: the agent, as before
      {"--id", "boot", "run"}, // ... and then the subcommand: run
      {"--id", "run", "boot"},
      {"boot", "--env-file", "/tmp/e"},
      {"peer", "127.0.0.1", "status"},
      {"peer", "127.0.0.1", "transition", "configure"},
      {"callback", "nats"},
      {"kafka", "ready"},
      {"config", "get", "default/app"},
      {"status", "--group", "app"},
      {"render", "--dry-run"},
      {"runn"}, // a typo: the whole command line's error
      {"run", "--bogus"},
      {"run", "boot"},
    };
    for (String[] args : cases) {
      assertThat(parsed(KontrolCommand.forArgs(new KontrolCommand(GOOD), args), args))
          .as("kontrol %s", String.join(" ", args))
          .isEqualTo(parsed(KontrolCommand.commandLine(new KontrolCommand(GOOD)), args));
    }
  }
}
