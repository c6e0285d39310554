package io.kontrol.service.haproxy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.agent.identity.Annotations;
import io.kontrol.agent.identity.Identity;
import io.kontrol.agent.render.RenderStatus;
import io.kontrol.agent.supervisor.SupervisorCommand;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol haproxy configure}: the HAProxy pod's {@code configure} state. Renders the pod's
 * {@code haproxy.unity3d.com/config} template with the leader's {@code hosts} and applies it to
 * the running HAProxy ({@link Configurator}); the outcome goes to the pod's payload under {@code
 * haproxy} (with {@code eip} from {@code KONTROL_EIP}) and one line on stdout.
 *
 * <p>Exit codes: 0 the configuration runs, 1 it was refused (render, check or reload; HAProxy
 * keeps the last good one), 2 bad input.
 */
@Command(
    name = "configure",
    mixinStandardHelpOptions = true,
    description = {
      "Render the pod's haproxy.unity3d.com/config template with {\"hosts\": {app: [ip...]}} ($INPUT)"
          + " and apply it: no-op when unchanged, haproxy -c first, runtime API for server address or"
          + " state changes, else a reload through the master CLI, confirmed with show proc; a failure"
          + " keeps the last good configuration. The outcome goes to the payload (KONTROL_PAYLOAD)."
    })
public final class HaproxyConfigureCommand implements Callable<Integer> {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--input", paramLabel = "JSON", description = "{\"hosts\": {...}}; default: $INPUT")
  String input;

  @Option(names = "--dir", paramLabel = "DIR", defaultValue = "/data/haproxy",
      description = "the running haproxy.cfg, last-good.cfg, candidate.cfg (default: ${DEFAULT-VALUE})")
  Path dir;

  @Option(names = "--base", paramLabel = "FILE", defaultValue = "/etc/haproxy/kontrol.cfg",
      description = "the image's own configuration, loaded after the operator's (default: ${DEFAULT-VALUE})")
  Path base;

  @Option(names = "--socket", paramLabel = "FILE", defaultValue = "/run/haproxy/master.sock",
      description = "the master CLI socket (default: ${DEFAULT-VALUE})")
  Path socket;

  @Option(names = "--log", paramLabel = "FILE", defaultValue = "/var/log/haproxy/haproxy.log",
      description = "HAProxy's output, read for the reason of a failed reload (default: ${DEFAULT-VALUE})")
  Path haproxyLog;

  @Option(names = "--haproxy", paramLabel = "PATH", defaultValue = "haproxy", description = "default: ${DEFAULT-VALUE}")
  String haproxy;

  @Option(names = "--start", paramLabel = "COMMAND", defaultValue = "supervisorctl start haproxy",
      description = "starts HAProxy when it is not running (default: ${DEFAULT-VALUE})")
  String start;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "20",
      description = "for a reload or start to be confirmed (default: ${DEFAULT-VALUE})")
  int timeout;

  @Spec CommandSpec spec;

  private final Map<String, String> env;

  /** @param env the environment: {@code $INPUT}, the annotations, {@code KONTROL_PAYLOAD}, {@code KONTROL_EIP} */
  public HaproxyConfigureCommand(Map<String, String> env) {
    this.env = Map.copyOf(env);
  }

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String json = input != null ? input : env.getOrDefault("INPUT", "");
    Map<String, List<String>> hosts;
    Optional<String> template;
    try {
      hosts = hosts(json);
      template = Optional.ofNullable(Annotations.current(env).get(Configurator.ANNOTATION));
    } catch (IllegalArgumentException e) {
      err.println("kontrol haproxy configure: " + e.getMessage() + "; nothing changed");
      err.flush();
      return 2;
    }
    Configurator configurator =
        new Configurator(
            new Configurator.Settings(
                dir.resolve("haproxy.cfg"), base, haproxyLog, haproxy, Duration.ofSeconds(10), Duration.ofSeconds(timeout)),
            new MasterCli(socket),
            () -> run(start),
            line -> {
              out.println(line);
              out.flush();
            });
    Outcome outcome = configurator.configure(hosts, template, env);
    out.println(outcome.logLine());
    out.flush();
    String payload = env.get("KONTROL_PAYLOAD");
    if (payload != null && !payload.isBlank()) {
      ObjectNode fields = JSON.createObjectNode();
      fields.set("haproxy", outcome.toJson());
      String eip = env.get(Identity.EIP);
      if (eip != null && !eip.isBlank()) {
        fields.put("eip", eip);
      }
      try {
        new RenderStatus(Path.of(payload)).merge(fields);
      } catch (IOException e) {
        err.println("kontrol haproxy configure: cannot update the payload " + payload + ": " + e.getMessage());
        err.flush();
      }
    }
    return outcome.ok() ? 0 : 1;
  }

  private static Map<String, List<String>> hosts(String json) {
    if (json == null || json.isBlank()) {
      throw new IllegalArgumentException("no input: expected {\"hosts\": {app: [ip, ...]}} (from the leader, as $INPUT or --input)");
    }
    JsonNode node;
    try {
      node = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("the input is not JSON: " + e.getOriginalMessage());
    }
    if (!node.isObject() || !node.has("hosts")) {
      throw new IllegalArgumentException("the input must be {\"hosts\": {app: [ip, ...]}}, got " + abbreviate(json));
    }
    return Hosts.canonical(node.get("hosts"));
  }

  private static String abbreviate(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  private static void run(String command) throws IOException {
    SupervisorCommand.Outcome o;
    try {
      o = SupervisorCommand.run(command, Duration.ofSeconds(60));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (!o.ok()) {
      throw new IOException(o.reason());
    }
  }
}
