package io.kontrol.service.haproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.TransitionResult;
import io.kontrol.service.CallbackException;
import io.kontrol.service.CallbackInput;
import io.kontrol.service.Fanout;
import io.kontrol.service.nats.BrokerPod;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader's callback against two real automatons behind real peer API servers on loopback
 * (the proxies), with the group's records as the agent passes them.
 */
@Timeout(120)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HaproxyCallbackTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;

  private final Map<String, BrokerPod> proxies = new LinkedHashMap<>();
  private final PeerClient client = new PeerClient(PeerConfig.newBuilder().build());
  private final List<String> log = Collections.synchronizedList(new ArrayList<>());
  private final List<String> upserts = new CopyOnWriteArrayList<>();
  private Fanout fanout;

  @BeforeAll
  void startProxies() throws Exception {
    for (String ip : List.of("10.0.0.1", "10.0.0.2")) {
      proxies.put(ip, BrokerPod.start(dir.resolve(ip)));
    }
    fanout =
        new Fanout(
            (ip, state, input) -> {
              BrokerPod pod = proxies.get(ip);
              TransitionResult r = client.transition("127.0.0.1", pod == null ? 1 : pod.port(), state, input, true, Duration.ofSeconds(10));
              return r.ok() ? null : r.outcome() + ": " + r.reason();
            },
            log::add);
  }

  @AfterAll
  void stop() throws Exception {
    client.close();
    for (BrokerPod p : proxies.values()) {
      p.close();
    }
  }

  private static String record(String app, String ip, String nonce, String payload) {
    return "{\"app\":\"" + app + "\",\"id\":\"" + app + "-" + ip + "\",\"ip\":\"" + ip + "\",\"nonce\":\"" + nonce
        + "\",\"payload\":" + payload + ",\"role\":\"x\",\"seq\":0}";
  }

  private static String pods(String... records) {
    return "[" + String.join(",", records) + "]";
  }

  private String run(String pods, String state, String route53) throws CallbackException {
    HaproxyCallback callback =
        new HaproxyCallback(
            "haproxy", fanout, Optional.ofNullable(route53), Optional.of("ZTEST"),
            (name, zone, ips) -> upserts.add(name + " " + zone.orElse("?") + " " + ips), log::add);
    return callback.run(CallbackInput.parse(pods, state, log::add));
  }

  private int configured(String ip) throws Exception {
    return proxies.get(ip).configured().size();
  }

  private static final String EIP1 = "{\"eip\":\"203.0.113.20\"}";
  private static final String EIP2 = "{\"eip\":\"203.0.113.3\"}";

  @Test
  void hostsAreEveryOtherAppSortedAndAReorderingConfiguresNothing() throws Exception {
    String first =
        pods(
            record("web", "10.0.1.10", "a", "{}"),
            record("haproxy", "10.0.0.1", "n1", EIP1),
            record("web", "10.0.1.9", "b", "{}"),
            record("api", "10.0.2.1", "c", "{}"),
            record("haproxy", "10.0.0.2", "n2", EIP2));
    int before1 = configured("10.0.0.1");
    int before2 = configured("10.0.0.2");

    String state = run(first, null, "proxy.example.com");

    JsonNode s = JSON.readTree(state);
    assertThat(s.get("hosts").toString()).isEqualTo("{\"api\":[\"10.0.2.1\"],\"web\":[\"10.0.1.9\",\"10.0.1.10\"]}");
    assertThat(s.get("md5").asText()).isEqualTo(Hosts.md5(Hosts.canonical(JSON.readTree("{\"web\":[\"10.0.1.10\",\"10.0.1.9\"],\"api\":[\"10.0.2.1\"]}"))));
    assertThat(proxies.get("10.0.0.1").configured()).last().isEqualTo("{\"hosts\":{\"api\":[\"10.0.2.1\"],\"web\":[\"10.0.1.9\",\"10.0.1.10\"]}}");
    assertThat(configured("10.0.0.1")).isEqualTo(before1 + 1);
    assertThat(configured("10.0.0.2")).isEqualTo(before2 + 1);
    assertThat(upserts).last().isEqualTo("proxy.example.com ZTEST [203.0.113.3, 203.0.113.20]");
    int upsertsBefore = upserts.size();

    // the same members in another order: nothing to send, no DNS request
    String reordered =
        pods(
            record("haproxy", "10.0.0.2", "n2", EIP2),
            record("api", "10.0.2.1", "c", "{}"),
            record("web", "10.0.1.9", "b", "{}"),
            record("haproxy", "10.0.0.1", "n1", EIP1),
            record("web", "10.0.1.10", "a", "{}"));
    assertThat(run(reordered, state, "proxy.example.com")).isEqualTo(state);
    assertThat(configured("10.0.0.1")).isEqualTo(before1 + 1);
    assertThat(configured("10.0.0.2")).isEqualTo(before2 + 1);
    assertThat(upserts).hasSize(upsertsBefore);
  }

  @Test
  void aRestartedProxyOrOneReportingAFailedConfigureIsConfiguredAloneAgain() throws Exception {
    String state = run(pods(record("haproxy", "10.0.0.1", "n1", "{}"), record("haproxy", "10.0.0.2", "n2", "{}"), record("web", "10.0.1.1", "a", "{}")), null, null);
    int before1 = configured("10.0.0.1");
    int before2 = configured("10.0.0.2");

    run(pods(record("haproxy", "10.0.0.1", "n1-restarted", "{}"), record("haproxy", "10.0.0.2", "n2", "{}"), record("web", "10.0.1.1", "a", "{}")), state, null);
    assertThat(configured("10.0.0.1")).isEqualTo(before1 + 1);
    assertThat(configured("10.0.0.2")).isEqualTo(before2);

    String failing = pods(record("haproxy", "10.0.0.1", "n1", "{}"), record("haproxy", "10.0.0.2", "n2", "{\"haproxy\":{\"status\":\"error\",\"stage\":\"check\"}}"), record("web", "10.0.1.1", "a", "{}"));
    String retried = run(failing, state, null);
    assertThat(configured("10.0.0.2")).isEqualTo(before2 + 1);
    assertThat(configured("10.0.0.1")).isEqualTo(before1 + 1);

    // it fails again with the same hosts (its own template): not sent again at every change of its
    // record, which would repeat a failed reload each time
    String failingAgain = failing.replace("\"stage\":\"check\"", "\"stage\":\"check\",\"at\":\"later\"");
    String after = run(failingAgain, retried, null);
    assertThat(configured("10.0.0.2")).isEqualTo(before2 + 1);
    assertThat(log).anyMatch(l -> l.contains("[10.0.0.2] still fail with these hosts after one more try: not sent again"));
    assertThat(run(failingAgain, after, null)).isEqualTo(after);
    assertThat(configured("10.0.0.2")).isEqualTo(before2 + 1);

    // new hosts go to every proxy, the failing one included, and it is given one more try again
    String moved = run(failing.replace("10.0.1.1", "10.0.1.2"), after, null);
    assertThat(configured("10.0.0.2")).isEqualTo(before2 + 2);
    run(failingAgain.replace("10.0.1.1", "10.0.1.2"), moved, null);
    assertThat(configured("10.0.0.2")).isEqualTo(before2 + 3);
  }

  @Test
  void aProxyThatDoesNotAnswerFailsTheRunAndNoDnsChangeIsMade() throws Exception {
    int before = upserts.size();
    assertThatThrownBy(
            () -> run(pods(record("haproxy", "10.0.0.1", "n1", EIP1), record("haproxy", "10.0.0.9", "gone", EIP2), record("web", "10.0.1.7", "a", "{}")), null, "proxy.example.com"))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("10.0.0.9");
    assertThat(upserts).hasSize(before);
  }

  @Test
  void aDnsFailureFailsTheRunOnlyAfterEveryProxyWasConfigured() throws Exception {
    int before = configured("10.0.0.1");
    HaproxyCallback callback =
        new HaproxyCallback(
            "haproxy", fanout, Optional.of("proxy.example.com"), Optional.empty(),
            (name, zone, ips) -> {
              throw CallbackException.failed("route53: AccessDenied");
            },
            log::add);
    assertThatThrownBy(
            () -> callback.run(CallbackInput.parse(pods(record("haproxy", "10.0.0.1", "n1", EIP1), record("web", "10.0.1.8", "a", "{}")), null, log::add)))
        .hasMessageContaining("AccessDenied");
    assertThat(configured("10.0.0.1")).isEqualTo(before + 1);
  }

  @Test
  void aRecordWithoutAppIsBadInput() {
    assertThatThrownBy(() -> run("[{\"ip\":\"10.0.0.1\",\"nonce\":\"x\"}]", null, null))
        .isInstanceOf(CallbackException.class)
        .satisfies(e -> assertThat(((CallbackException) e).badInput()).isTrue())
        .hasMessageContaining("no app");
  }
}
