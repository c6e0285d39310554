package io.kontrol.service.haproxy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kontrol.agent.identity.Annotations;
import io.kontrol.service.CallbackException;
import io.kontrol.service.Fanout;
import io.kontrol.service.ServiceCallback;
import io.kontrol.service.ServiceCallbackCommand;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import picocli.CommandLine.Command;

/** {@code kontrol callback haproxy}: {@link HaproxyCallback} under the service callback contract. */
@Command(
    name = "haproxy",
    mixinStandardHelpOptions = true,
    description = {
      "Sends every HAProxy pod of the group 'configure' with {\"hosts\": {app: [ip...]}} (every"
          + " other app's pods, sorted) when it changed, through the peer API, then keeps the"
          + " haproxy.unity3d.com/route53 A record (if set) on the proxies' external IPs; prints"
          + " the new state."
    })
public final class HaproxyCallbackCommand extends ServiceCallbackCommand {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, String> env;

  public HaproxyCallbackCommand(Map<String, String> env) {
    super(env);
    this.env = Map.copyOf(env);
  }

  @Override
  protected ServiceCallback callback(Fanout fanout, Consumer<String> log) {
    return in -> {
      String app = proxyApp(env);
      Map<String, String> annotations;
      try {
        annotations = Annotations.current(env);
      } catch (IllegalArgumentException e) {
        throw CallbackException.badInput(e.getMessage());
      }
      Optional<String> name = Optional.ofNullable(annotations.get(Route53Record.NAME_ANNOTATION));
      Optional<String> zone = Optional.ofNullable(annotations.get(Route53Record.ZONE_ANNOTATION));
      if (name.isEmpty() || name.get().isBlank()) {
        return new HaproxyCallback(app, fanout, name, zone, (n, z, ips) -> {}, log).run(in);
      }
      try (Route53Record dns = Route53Record.fromEnv(env, log)) {
        return new HaproxyCallback(app, fanout, name, zone, new ReportingDns(dns, env, log), log).run(in);
      }
    };
  }

  /** The proxies' app: the leader's own ({@code app} of {@code KONTROL_LABELS}). */
  static String proxyApp(Map<String, String> env) throws CallbackException {
    String labels = env.get("KONTROL_LABELS");
    try {
      JsonNode node = labels == null ? null : JSON.readTree(labels);
      String app = node == null ? "" : node.path("app").asText("");
      if (!app.isBlank()) {
        return app;
      }
    } catch (JsonProcessingException e) {
      // reported below
    }
    throw CallbackException.badInput(
        "KONTROL_LABELS holds no app (the proxies' own app, left out of hosts): " + labels);
  }
}
