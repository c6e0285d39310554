package io.kontrol.service.haproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.service.CallbackException;
import io.kontrol.service.CallbackInput;
import io.kontrol.service.Fanout;
import io.kontrol.service.ServiceCallback;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * The HAProxy group leader's callback (replaces the original's callback.py). The group holds the
 * proxies (records of the leader's own app) and every downstream pod that names the proxies'
 * service as a kontrol master.
 *
 * <p>{@code hosts} = for every other app, its pods' IPs, keys and IPs sorted. When {@code hosts}
 * differs from the one in {@code $STATE}, every proxy is sent {@code configure} with {@code
 * {"hosts": ...}}; otherwise only a proxy that restarted (new nonce, or new in the group), and a
 * proxy that reports a failed configure in its payload, once for these hosts: when it fails again
 * with the same hosts its own template is at fault, and sending it again would only repeat the
 * failure (a failed reload each time) at every change of its record; the pod runs {@code
 * configure} again by itself when its template changes. A proxy that fails or does not answer fails the run,
 * which the agent retries. Then, when the proxies are up to date, the Route53 record (if any) is
 * brought up to date; a Route53 failure fails the run too (so it is retried with the agent's
 * back-off), but only after every proxy was configured.
 *
 * <p>State: {@code {"md5": ..., "hosts": {...}, "proxies": {ip: nonce}, "retried": {ip: md5},
 * "route53": {"name": ..., "ips": [...]}}} ({@code retried}: the failing proxies already sent these
 * hosts again).
 */
public final class HaproxyCallback implements ServiceCallback {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Keeps the proxies' A record: the leader's Route53 step. */
  @FunctionalInterface
  public interface Dns {
    /**
     * Makes the record hold {@code ips} (sorted).
     *
     * @throws CallbackException when it could not
     */
    void upsert(String name, Optional<String> zone, List<String> ips) throws CallbackException;
  }

  private final String proxyApp;
  private final Fanout proxies;
  private final Optional<String> recordName;
  private final Optional<String> zone;
  private final Dns dns;
  private final Consumer<String> log;

  /**
   * @param proxyApp the proxies' app (the leader's own), left out of {@code hosts}
   * @param recordName the A record to keep ({@code haproxy.unity3d.com/route53}), if any
   * @param zone its hosted zone id ({@code haproxy.unity3d.com/route53-zone}), else looked up
   */
  public HaproxyCallback(
      String proxyApp, Fanout proxies, Optional<String> recordName, Optional<String> zone, Dns dns, Consumer<String> log) {
    this.proxyApp = Objects.requireNonNull(proxyApp, "proxyApp");
    this.proxies = Objects.requireNonNull(proxies, "proxies");
    this.recordName = recordName.filter(s -> !s.isBlank());
    this.zone = zone.filter(s -> !s.isBlank());
    this.dns = Objects.requireNonNull(dns, "dns");
    this.log = Objects.requireNonNull(log, "log");
  }

  @Override
  public String run(CallbackInput in) throws CallbackException {
    Map<String, List<String>> raw = new TreeMap<>();
    TreeMap<String, String> nonces = new TreeMap<>();
    TreeSet<String> failing = new TreeSet<>();
    TreeSet<String> eips = new TreeSet<>(Hosts::compareIps);
    for (JsonNode record : in.records()) {
      String ip = CallbackInput.ip(record);
      String app = record.path("app").asText("");
      if (app.isEmpty()) {
        throw CallbackException.badInput("a pod record has no app: " + record);
      }
      if (app.equals(proxyApp)) {
        nonces.put(ip, record.path("nonce").asText(""));
        JsonNode payload = CallbackInput.payload(record);
        if ("error".equals(payload.path("haproxy").path("status").asText())) {
          failing.add(ip);
        }
        String eip = payload.path("eip").asText("");
        if (!eip.isBlank()) {
          eips.add(eip);
        }
      } else {
        raw.computeIfAbsent(app, k -> new ArrayList<>()).add(ip);
      }
    }
    Map<String, List<String>> hosts = Hosts.canonical(raw);
    String md5 = Hosts.md5(hosts);

    ObjectNode state = JSON.createObjectNode();
    state.put("md5", md5);
    state.set("hosts", JSON.valueToTree(hosts));
    ObjectNode seen = state.putObject("proxies");
    nonces.forEach(seen::put);

    JsonNode previous = in.previous();
    TreeSet<String> targets = new TreeSet<>();
    if (!md5.equals(previous.path("md5").asText(null))) {
      targets.addAll(nonces.keySet());
    } else {
      JsonNode before = previous.path("proxies");
      nonces.forEach(
          (ip, nonce) -> {
            if (!nonce.equals(before.path(ip).asText(null))) {
              targets.add(ip);
            }
          });
      if (!targets.isEmpty()) {
        log.accept("proxy(ies) " + targets + " new or restarted: configuring them");
      }
      JsonNode retried = previous.path("retried");
      TreeSet<String> again = new TreeSet<>();
      TreeSet<String> given = new TreeSet<>();
      for (String ip : failing) {
        if (md5.equals(retried.path(ip).asText(null))) {
          given.add(ip);
        } else {
          again.add(ip);
        }
      }
      if (!again.isEmpty()) {
        log.accept("proxy(ies) " + again + " report a failed configure: sending the configuration again, once");
        targets.addAll(again);
      }
      if (!given.isEmpty()) {
        log.accept("proxy(ies) " + given + " still fail with these hosts after one more try: not sent again"
            + " (their template is at fault; a pod configures itself again when its template changes)");
      }
      ObjectNode tried = JSON.createObjectNode();
      failing.forEach(ip -> tried.put(ip, md5));
      if (!tried.isEmpty()) {
        state.set("retried", tried);
      }
    }
    ObjectNode input = JSON.createObjectNode();
    input.set("hosts", JSON.valueToTree(hosts));
    if (targets.isEmpty()) {
      log.accept(nonces.size() + " proxy(ies) already configured for " + Hosts.json(hosts));
    } else {
      log.accept("configuring " + targets.size() + " of " + nonces.size() + " proxy(ies) with " + input);
      proxies.configure(List.copyOf(targets), input.toString());
    }

    if (recordName.isPresent()) {
      ObjectNode record = JSON.createObjectNode();
      record.put("name", recordName.get());
      ArrayNode ips = record.putArray("ips");
      eips.forEach(ips::add);
      if (eips.isEmpty()) {
        log.accept("route53: no proxy reports an eip (KONTROL_EIP), " + recordName.get() + " left as it is");
      } else if (record.equals(previous.path("route53"))) {
        log.accept("route53: " + recordName.get() + " already holds " + eips);
        state.set("route53", record);
      } else {
        dns.upsert(recordName.get(), zone, List.copyOf(eips));
        state.set("route53", record);
      }
    }
    return state.toString();
  }
}
