package io.kontrol.automaton.cli;

import io.kontrol.automaton.client.AutomatonClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code automaton send [-s SOCKET] [-t SECONDS] COMMAND [ARGS...]}: the socat replacement. The
 * words are joined with single spaces into one protocol line; everything after COMMAND is taken
 * verbatim (options are not parsed there), so {@code automaton send GOTO configure '{"a": 1}'}
 * sends the JSON as is.
 */
@Command(
    name = "send",
    mixinStandardHelpOptions = true,
    versionProvider = Version.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Sends one command to a running automaton and prints its reply.",
      "Commands: STATE | GOTO <state> [input] | WAIT <state> [input] | SET <KEY> <value> | DIE"
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:reply OK, or a state tag (STATE)",
      "1:reply KO (refused), or no reply",
      "2:usage error",
      "3:timeout, or no automaton listening"
    })
final class SendCommand implements Callable<Integer> {

  static final int KO = 1;
  static final int UNREACHABLE = 3;

  @Spec CommandSpec spec;

  @Option(names = {"-s", "--socket"}, paramLabel = "SOCKET", defaultValue = "${env:SOCKET:-/var/run/automaton.sock}",
      description = "the automaton's socket (default: $SOCKET, else /var/run/automaton.sock; now ${DEFAULT-VALUE})")
  Path socket;

  @Option(names = {"-t", "--timeout"}, paramLabel = "SECONDS", defaultValue = "10",
      description = "how long to wait for the reply, 0 = no limit (default: ${DEFAULT-VALUE});"
          + " a WAIT lasts as long as the state's script")
  double timeout;

  @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "the command and its arguments")
  List<String> words;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (!(timeout >= 0) || timeout > 1e7) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--timeout must be a number of seconds >= 0, got " + timeout);
    }
    String line = String.join(" ", words);
    if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
      throw new CommandLine.ParameterException(spec.commandLine(), "a command is one line: remove the line breaks");
    }
    Duration limit = timeout == 0 ? Duration.ofDays(3650) : Duration.ofNanos((long) (timeout * 1e9));
    String reply;
    try {
      reply = new AutomatonClient(socket).send(line, limit);
    } catch (ConnectException e) {
      err.println("automaton send: " + e.getMessage());
      return UNREACHABLE;
    } catch (TimeoutException e) {
      err.println("automaton send: no reply from " + socket + " within " + timeout + " s");
      return UNREACHABLE;
    } catch (IOException e) {
      err.println("automaton send: " + socket + ": " + e.getMessage());
      return UNREACHABLE;
    }
    if (reply.isEmpty()) {
      err.println("automaton send: the automaton closed the connection without a reply");
      return KO;
    }
    out.println(reply);
    out.flush();
    return reply.equals("KO") ? KO : 0;
  }
}
