package io.kontrol.automaton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.automaton.testing.AutomatonProcess;
import io.kontrol.automaton.testing.AutomatonProcess.Result;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/** The command line: a positional MANIFEST on the top command next to the send and check subcommands. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CliTest {

  static final String BOT = String.join("\n",
      "initial: A",
      "terminal: C",
      "states:",
      "- tag: A",
      "  shell: echo starting",
      "  next: [B, 'expose-*']",
      "- tag: B",
      "  shell: sleep 5",
      "  next: [A, B]",
      "  force: true",
      "- tag: expose-dns",
      "- tag: C",
      "");

  @TempDir Path dir;

  @Test
  void aManifestAndTheSubcommandsAreToldApart() {
    ParseResult run = AutomatonCommand.commandLine().parseArgs("/home/kontrol/lifecycle.yml", "-d", "-s", "/tmp/sock");
    assertThat(run.hasSubcommand()).isFalse();
    assertThat(run.matchedPositionalValue(0, (Path) null)).isEqualTo(Path.of("/home/kontrol/lifecycle.yml"));
    assertThat(run.matchedOptionValue("-s", (Path) null)).isEqualTo(Path.of("/tmp/sock"));
    assertThat(run.hasMatchedOption("-d")).isTrue();

    ParseResult check = AutomatonCommand.commandLine().parseArgs("check", "x.yml");
    assertThat(check.subcommand().commandSpec().name()).isEqualTo("check");
    assertThat(check.subcommand().matchedPositionalValue(0, (Path) null)).isEqualTo(Path.of("x.yml"));

    ParseResult send = AutomatonCommand.commandLine().parseArgs("send", "-s", "/tmp/sock", "GOTO", "B", "-t", "{\"a\":-1}");
    assertThat(send.subcommand().commandSpec().name()).isEqualTo("send");
    assertThat(send.subcommand().matchedPositionalValue(0, List.<String>of())).containsExactly("GOTO", "B", "-t", "{\"a\":-1}");
  }

  @Test
  void checkPrintsStatesAndTransitions() throws Exception {
    Files.writeString(dir.resolve("bot.yml"), BOT);
    Result r = AutomatonProcess.cli(dir, "check", "bot.yml");
    assertThat(r.code()).isZero();
    assertThat(r.out()).isEqualTo(String.join("\n",
        "bot.yml: valid, 4 states",
        "initial:  A",
        "terminal: C",
        "  A          -> B, expose-dns, C   [next: B, expose-*]",
        "  B          -> A, B, C   [force]",
        "  expose-dns -> C   [no script]",
        "  C          -> (none)   [terminal]   [no script]",
        ""));
    assertThat(r.err()).isEmpty();
  }

  @Test
  void checkReportsEveryProblemWithFileLineAndColumn() throws Exception {
    Files.writeString(dir.resolve("bad.yml"), "initial: A\nterminal: Z\nstates:\n- tag: A\n  next: [Q]\n  sh: x\n");
    Result r = AutomatonProcess.cli(dir, "check", "bad.yml");
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).isEqualTo(String.join("\n",
        "bad.yml:6:3: unknown state key 'sh': expected one of force, next, shell, tag",
        "bad.yml:2:11: 'terminal' names no state: 'Z' (states: A)",
        "bad.yml:5:10: 'next' names no state: 'Q' (states: A)",
        ""));

    Files.writeString(dir.resolve("notyaml.yml"), "initial: [A\n");
    Result y = AutomatonProcess.cli(dir, "check", "notyaml.yml");
    assertThat(y.code()).isEqualTo(1);
    assertThat(y.err()).startsWith("notyaml.yml:2:1: not valid YAML: ");
  }

  @Test
  void checkAndRunAreBothReachable() throws Exception {
    // "automaton check x.yml" validates; "automaton x.yml" runs (and here refuses the same file)
    Files.writeString(dir.resolve("x.yml"), "initial: A\n");
    Result check = AutomatonProcess.cli(dir, "check", "x.yml");
    Result run = AutomatonProcess.cli(dir, "x.yml", "-s", dir.resolve("sock").toString(), "-l", "-");
    assertThat(check.code()).isEqualTo(1);
    assertThat(run.code()).isEqualTo(1);
    assertThat(check.err()).contains("x.yml:1:1: missing key 'terminal'");
    assertThat(run.err()).contains("x.yml:1:1: missing key 'terminal'").contains("invalid manifest, not starting");
  }

  @Test
  void usageErrorsExitTwo() {
    assertThat(inProcess().code()).isEqualTo(2);
    assertThat(inProcess().err()).contains("Missing required parameter: 'MANIFEST'").contains("Usage: automaton");
    assertThat(inProcess("x.yml", "--bogus").code()).isEqualTo(2);
    assertThat(inProcess("x.yml", "--socket-mode", "rw").code()).isEqualTo(2);
    assertThat(inProcess("x.yml", "--settle", "-1").code()).isEqualTo(2);
    assertThat(inProcess("check").code()).isEqualTo(2);
    assertThat(inProcess("send").code()).isEqualTo(2);
    assertThat(inProcess("send", "-t", "soon", "STATE").code()).isEqualTo(2);
    Result help = inProcess("--help");
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("Usage: automaton", "send", "check", "--socket-mode", "Exit codes:");
  }

  @Test
  void sendTimesOutWithExitThreeWhenNobodyAnswers() throws Exception {
    Path sock = dir.resolve("mute.sock");
    try (ServerSocketChannel mute = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      mute.bind(UnixDomainSocketAddress.of(sock)); // listens, never accepts nor answers
      long t0 = System.nanoTime();
      Result r = AutomatonProcess.cli(dir, "send", "-s", sock.toString(), "-t", "0.5", "STATE");
      assertThat(r.code()).isEqualTo(3);
      assertThat(r.err()).contains("no reply from " + sock);
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(10_000);
    }
  }

  @Test
  void sendUsesSocketFromTheEnvironmentAsScriptsHaveIt() {
    CommandLine cl = AutomatonCommand.commandLine();
    String expected = System.getenv("SOCKET") != null ? System.getenv("SOCKET") : "/var/run/automaton.sock";
    ParseResult p = cl.parseArgs("send", "STATE");
    assertThat(p.subcommand().commandSpec().findOption("-s").getValue().toString()).isEqualTo(expected);
  }

  private static Result inProcess(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = AutomatonCommand.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Result(code, out.toString(), err.toString());
  }
}
