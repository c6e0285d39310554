package io.kontrol.service.nats;

import io.kontrol.agent.cli.KontrolCommand;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.supervisor.SupervisorCommand;
import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol nats configure}: the NATS pod's {@code configure} state. Renders the broker's
 * configuration for the leader's input ({@code {"group": ..., "peers": [...]}} plus the group
 * configuration's {@code name}, {@code routes}, {@code leafnodes}) and applies it:
 *
 * <ul>
 *   <li>the template is the pod annotation {@value #ANNOTATION}, else {@code --template}; it is
 *       rendered by {@code kontrol render} (the same command, in this JVM) and checked with {@code
 *       nats-server -t} before it replaces {@code --conf}; a template or configuration that fails
 *       leaves the running broker and its file alone, exits 1, and is reported as {@code
 *       config_error} in the payload ({@code KONTROL_PAYLOAD})
 *   <li>first time: {@code supervisorctl start}; afterwards a SIGHUP, a reload that keeps the
 *       clients connected: straight to the pid in {@code --pid-file} when {@code /proc/PID/comm}
 *       names a nats-server (no supervisorctl, whose Python start costs about a second on a
 *       loaded node), else through {@code supervisorctl signal HUP}
 *   <li>except when the leafnode remotes changed: nats-server 2.9 refuses to reload those ("config
 *       reload not supported for LeafNode"), so the broker is restarted and its clients reconnect
 * </ul>
 *
 * <p>Exit codes: 0 the configuration runs, 1 it was refused or the broker did not take it, 2 no
 * input. One line on stdout says what happened.
 */
@Command(
    name = "configure",
    mixinStandardHelpOptions = true,
    description = {
      "Render the broker configuration for the leader's {\"group\": ..., \"peers\": [...]} ($INPUT)"
          + " from the pod's nats.unity3d.com/config template (else --template), check it with"
          + " nats-server -t, and reload the broker with SIGHUP (start it the first time; restart it"
          + " when the leafnode remotes changed). A failure keeps the running configuration and is"
          + " reported as config_error in the payload (KONTROL_PAYLOAD)."
    })
public final class NatsConfigureCommand implements Callable<Integer> {

  /** The pod annotation holding the operator's own template. */
  public static final String ANNOTATION = "nats.unity3d.com/config";

  private static final String DEFAULTS = "{\"name\": \"\", \"routes\": [], \"leafnodes\": []}";
  private static final Pattern LEAFNODES_START = Pattern.compile("^leafnodes *\\{.*");
  private static final Duration SUPERVISORCTL_TIMEOUT = Duration.ofSeconds(60);

  @Option(names = "--input", paramLabel = "JSON", description = "{\"group\": ..., \"peers\": [...]}; default: $INPUT")
  String input;

  @Option(names = "--conf", paramLabel = "FILE", defaultValue = "/data/nats/nats.conf",
      description = "the broker's configuration (default: ${DEFAULT-VALUE})")
  Path conf;

  @Option(names = "--template", paramLabel = "FILE", defaultValue = "/home/kontrol/nats/nats.conf.j2",
      description = "used when the pod has no " + ANNOTATION + " annotation (default: ${DEFAULT-VALUE})")
  Path template;

  @Option(names = "--pid-file", paramLabel = "FILE", defaultValue = "/data/nats/nats-server.pid",
      description = "the running broker's pid_file (default: ${DEFAULT-VALUE})")
  Path pidFile;

  @Option(names = "--nats-server", paramLabel = "PATH", defaultValue = "nats-server",
      description = "for the check, nats-server -t (default: ${DEFAULT-VALUE})")
  String natsServer;

  @Option(names = "--supervisorctl", paramLabel = "COMMAND", defaultValue = "supervisorctl",
      description = "starts, restarts or signals the broker's program (default: ${DEFAULT-VALUE})")
  String supervisorctl;

  @Option(names = "--program", paramLabel = "NAME", defaultValue = "nats-server",
      description = "the broker's supervisord program (default: ${DEFAULT-VALUE})")
  String program;

  @Spec CommandSpec spec;

  private final Map<String, String> env;

  /** @param env the environment: {@code $INPUT}, the annotations, {@code KONTROL_PAYLOAD}, {@code KONTROL_IP} */
  public NatsConfigureCommand(Map<String, String> env) {
    this.env = Map.copyOf(env);
  }

  @Override
  public Integer call() throws IOException, InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      return configure(out, err);
    } finally {
      out.flush();
      err.flush();
    }
  }

  private int configure(PrintWriter out, PrintWriter err) throws IOException, InterruptedException {
    String json = input != null ? input : env.getOrDefault("INPUT", "");
    if (json.isBlank()) {
      out.println("configure: no input (expected {\"group\": ..., \"peers\": [...]} from the leader); nothing changed");
      return 2;
    }
    String ip = Optional.ofNullable(env.get(AgentConfig.KONTROL_IP)).filter(s -> !s.isBlank()).orElseGet(AgentConfig::firstIpv4);
    String payload = Optional.ofNullable(env.get("KONTROL_PAYLOAD")).filter(s -> !s.isBlank()).orElse("/data/payload.json");
    List<String> leafBefore = leafnodes(conf);

    // the project's renderer, as `kontrol render` runs it, without a JVM of its own
    CommandLine render = KontrolCommand.commandLine(new KontrolCommand(env));
    render.setOut(out);
    render.setErr(err);
    int rendered =
        render.execute(
            "render",
            "--annotation", ANNOTATION,
            "--template", template.toString(),
            "--vars", DEFAULTS,
            "--vars", json,
            "--vars", "{\"ip\": \"" + ip + "\"}",
            "--check", natsServer + " -t -c {}",
            "--status-file", payload,
            "--output", conf.toString());
    if (rendered != 0) {
      out.println("configure: " + conf + " NOT changed, nats-server keeps its running configuration (see config_error in " + payload + ")");
      return 1;
    }

    if (!leafBefore.equals(leafnodes(conf)) && supervisorctl("status").ok()) {
      SupervisorCommand.Outcome restart = supervisorctl("restart");
      if (restart.ok()) {
        out.println("configure: nats-server restarted with " + conf
            + " (its leafnode remotes changed, which nats-server cannot reload) for " + json);
        return 0;
      }
      out.println("configure: nats-server did not restart with " + conf + " (" + restart.reason() + "; see /data/nats/nats-server.log)");
      return 1;
    }

    if (hupByPid() || supervisorctl("signal HUP").ok()) {
      out.println("configure: nats-server reloaded with " + conf + " for " + json);
      return 0;
    }
    SupervisorCommand.Outcome start = supervisorctl("start");
    if (start.ok()) {
      out.println("configure: nats-server started with " + conf + " for " + json);
      return 0;
    }
    out.println("configure: nats-server did not start with " + conf + " (" + start.reason() + "; see /data/nats/nats-server.log)");
    return 1;
  }

  /** The {@code leafnodes { ... }} block of a rendered file: its lines, none when it has none or does not exist. */
  static List<String> leafnodes(Path file) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
    List<String> block = new ArrayList<>();
    boolean in = false;
    for (String line : lines) {
      if (!in && LEAFNODES_START.matcher(line).matches()) {
        in = true;
      }
      if (in) {
        block.add(line);
        if (line.startsWith("}")) {
          in = false;
        }
      }
    }
    return block;
  }

  /**
   * SIGHUP to the broker named by the pid file, when that pid is a running nats-server ({@code
   * /proc/PID/comm}: a pid left behind by a broker that died may name another program by now).
   */
  private boolean hupByPid() throws IOException, InterruptedException {
    String pid;
    try {
      pid = Files.readString(pidFile, StandardCharsets.UTF_8).strip();
      if (!pid.matches("[0-9]+") || !Files.readString(Path.of("/proc", pid, "comm"), StandardCharsets.UTF_8).strip().equals("nats-server")) {
        return false;
      }
    } catch (NoSuchFileException e) {
      return false; // not started yet, or the broker is gone
    }
    ShellCommand.Result r = ShellCommand.of("kill -HUP " + pid).mergeOutput().run(Duration.ofSeconds(10), Capture.none(), Capture.none());
    return !r.timedOut() && r.exitCode() == 0;
  }

  /** {@code supervisorctl <action> <program>}. */
  private SupervisorCommand.Outcome supervisorctl(String action) throws IOException, InterruptedException {
    return SupervisorCommand.run(supervisorctl + " " + action + " " + program, SUPERVISORCTL_TIMEOUT);
  }
}
