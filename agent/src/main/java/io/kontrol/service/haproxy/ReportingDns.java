package io.kontrol.service.haproxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.agent.render.RenderStatus;
import io.kontrol.service.CallbackException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Puts the outcome of each Route53 update into the leader's own payload ({@code KONTROL_PAYLOAD},
 * key {@code route53}), so a failure shows in its kontrol record, not only in its log.
 */
final class ReportingDns implements HaproxyCallback.Dns {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HaproxyCallback.Dns dns;
  private final Optional<Path> payload;
  private final Consumer<String> log;

  ReportingDns(HaproxyCallback.Dns dns, Map<String, String> env, Consumer<String> log) {
    this.dns = dns;
    this.payload = Optional.ofNullable(env.get("KONTROL_PAYLOAD")).filter(s -> !s.isBlank()).map(Path::of);
    this.log = log;
  }

  @Override
  public void upsert(String name, Optional<String> zone, List<String> ips) throws CallbackException {
    ObjectNode report = JSON.createObjectNode();
    report.put("name", name);
    report.set("ips", JSON.valueToTree(ips));
    report.put("at", Instant.now().toString());
    try {
      dns.upsert(name, zone, ips);
      report.put("status", "ok");
    } catch (CallbackException e) {
      report.put("status", "error");
      report.put("message", e.getMessage());
      write(report);
      throw e;
    }
    write(report);
  }

  private void write(ObjectNode report) {
    if (payload.isEmpty()) {
      return;
    }
    ObjectNode fields = JSON.createObjectNode();
    fields.set("route53", report);
    try {
      new RenderStatus(payload.get()).merge(fields);
    } catch (IOException e) {
      log.accept("route53: cannot write the payload " + payload.get() + ": " + e.getMessage());
    }
  }
}
