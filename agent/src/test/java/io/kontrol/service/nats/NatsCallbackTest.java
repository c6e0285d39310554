package io.kontrol.service.nats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.TransitionResult;
import io.kontrol.service.CallbackException;
import io.kontrol.service.CallbackInput;
import io.kontrol.service.Fanout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The callback against real automatons behind real peer API servers on loopback. */
@Timeout(120)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NatsCallbackTest {

  @TempDir static Path dir;

  /** Pod IP (as the records say) to its pod; every pod is really on 127.0.0.1, its own port. */
  private final Map<String, BrokerPod> pods = new LinkedHashMap<>();
  private final PeerClient client = new PeerClient(PeerConfig.newBuilder().build());
  private final List<String> log = Collections.synchronizedList(new ArrayList<>());
  private NatsCallback callback;

  @BeforeAll
  void startPods() throws Exception {
    for (String ip : List.of("10.0.0.1", "10.0.0.2", "10.0.0.3")) {
      pods.put(ip, BrokerPod.start(dir.resolve(ip)));
    }
    Fanout brokers =
        new Fanout(
            (ip, state, input) -> {
              BrokerPod pod = pods.get(ip);
              int port = pod == null ? 1 : pod.port();
              TransitionResult r = client.transition("127.0.0.1", port, state, input, true, Duration.ofSeconds(10));
              return r.ok() ? null : r.outcome() + ": " + r.reason();
            },
            log::add);
    callback = new NatsCallback(brokers, log::add);
  }

  private String run(String pods, String state) throws CallbackException {
    return callback.run(CallbackInput.parse(pods, state, log::add));
  }

  private String run(String pods, String state, String config, long revision) throws CallbackException {
    return callback.run(
        CallbackInput.fromEnvironment(Map.of("PODS", pods, "STATE", state, "CONFIG", config, "CONFIG_REVISION", "" + revision), log::add));
  }

  @AfterAll
  void stopPods() throws Exception {
    client.close();
    for (BrokerPod pod : pods.values()) {
      pod.close();
    }
  }

  private static String record(String ip, int seq, String payload) {
    return record(ip, seq, payload, "n" + ip);
  }

  private static String record(String ip, int seq, String payload, String nonce) {
    return String.format(
        "{\"app\":\"nats\",\"id\":\"nats-%d\",\"ip\":\"%s\",\"key\":\"k\",\"nonce\":\"%s\",\"payload\":%s,"
            + "\"role\":\"broker\",\"seq\":%d}",
        seq, ip, nonce, payload, seq);
  }

  private static String input(String... ips) {
    return "{\"group\":\"nats\",\"peers\":[\"" + String.join("\",\"", ips) + "\"]}";
  }

  private static String state(String... ips) {
    StringBuilder nonces = new StringBuilder();
    for (String ip : ips) {
      nonces.append(nonces.length() == 0 ? "" : ",").append("\"").append(ip).append("\":\"n").append(ip).append("\"");
    }
    return input(ips).replaceFirst("}$", ",\"nonces\":{" + nonces + "}}");
  }

  private static String pods(String... records) {
    return "[" + String.join(",", records) + "]";
  }

  @Test
  void sendsEveryBrokerThePeerListOnlyWhenItChanged() throws Exception {
    int before = pods.get("10.0.0.1").configured().size();
    String two = pods(record("10.0.0.2", 1, "{}"), record("10.0.0.1", 2, "{}"));

    String state = run(two, "");
    assertThat(state).isEqualTo(state("10.0.0.1", "10.0.0.2"));
    assertThat(pods.get("10.0.0.1").configured()).endsWith(input("10.0.0.1", "10.0.0.2"));
    assertThat(pods.get("10.0.0.2").configured()).endsWith(input("10.0.0.1", "10.0.0.2"));

    // same pods again (the agent re-runs on any record change): no transition at all
    assertThat(run(two, state)).isEqualTo(state);
    assertThat(pods.get("10.0.0.1").configured()).hasSize(before + 1);

    // a third broker joins: all three get the new list, the old ones included
    String three = pods(record("10.0.0.2", 1, "{}"), record("10.0.0.1", 2, "{}"), record("10.0.0.3", 3, "{}"));
    String next = run(three, state);
    assertThat(next).isEqualTo(state("10.0.0.1", "10.0.0.2", "10.0.0.3"));
    for (BrokerPod pod : pods.values()) {
      assertThat(pod.configured()).endsWith(input("10.0.0.1", "10.0.0.2", "10.0.0.3"));
    }
  }

  @Test
  void aBrokerRestartedWithTheSameIpIsConfiguredAloneForItsNewNonce() throws Exception {
    String state = state("10.0.0.1", "10.0.0.2");
    int one = pods.get("10.0.0.1").configured().size();
    int two = pods.get("10.0.0.2").configured().size();

    String next =
        run(pods(record("10.0.0.1", 1, "{}"), record("10.0.0.2", 2, "{}", "restarted")), state);

    assertThat(next).contains("\"10.0.0.2\":\"restarted\"");
    assertThat(pods.get("10.0.0.2").configured()).hasSize(two + 1).endsWith(input("10.0.0.1", "10.0.0.2"));
    assertThat(pods.get("10.0.0.1").configured()).hasSize(one);
  }

  @Test
  void aBrokerReportingAConfigErrorIsSentTheConfigurationAgain() throws Exception {
    String records = pods(record("10.0.0.1", 1, "{}"), record("10.0.0.2", 2, "{\"config_error\":\"line 3: ...\"}"));
    String state = state("10.0.0.1", "10.0.0.2");
    int before = pods.get("10.0.0.2").configured().size();

    assertThat(run(records, state)).isEqualTo(state);

    assertThat(pods.get("10.0.0.2").configured()).hasSize(before + 1);
    assertThat(log).anyMatch(line -> line.contains("10.0.0.2") && line.contains("config_error"));
  }

  @Test
  void aBrokerThatDoesNotAnswerFailsTheRunButTheOthersAreStillConfigured() throws Exception {
    String records = pods(record("10.0.0.1", 1, "{}"), record("10.9.9.9", 2, "{}"));
    int before = pods.get("10.0.0.1").configured().size();

    assertThatThrownBy(() -> run(records, ""))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("1 of 2 member(s) not configured")
        .hasMessageContaining("10.9.9.9")
        .satisfies(e -> assertThat(((CallbackException) e).badInput()).isFalse());
    assertThat(pods.get("10.0.0.1").configured()).hasSize(before + 1);
  }

  @Test
  void unusablePodsAreBadInputAndContactNobody() {
    for (String bad : new String[] {null, "", "not json", "{\"ip\":\"10.0.0.1\"}", "[]", "[{\"app\":\"nats\"}]"}) {
      assertThatThrownBy(() -> run(bad, ""))
          .isInstanceOf(CallbackException.class)
          .satisfies(e -> assertThat(((CallbackException) e).badInput()).as(String.valueOf(bad)).isTrue());
    }
  }

  @Test
  void theGroupConfigurationIsMergedIntoEveryBrokersInputAndItsRevisionIntoTheState() throws Exception {
    String two = pods(record("10.0.0.1", 1, "{}"), record("10.0.0.2", 2, "{}"));
    String state = state("10.0.0.1", "10.0.0.2");
    String config =
        "{\"name\":\"CLUSTER_A\",\"routes\":[\"nats://10.9.0.1:4244\"],"
            + "\"leafnodes\":[{\"url\":\"nats-leaf://hub:7422\",\"credentials\":\"/etc/nats/hub.creds\"}]}";
    String expected =
        "{\"group\":\"nats\",\"peers\":[\"10.0.0.1\",\"10.0.0.2\"],\"name\":\"CLUSTER_A\",\"routes\":[\"nats://10.9.0.1:4244\"],"
            + "\"leafnodes\":[{\"url\":\"nats-leaf://hub:7422\",\"credentials\":\"/etc/nats/hub.creds\"}]}";

    String next = run(two, state, config, 42);
    for (String ip : List.of("10.0.0.1", "10.0.0.2")) {
      assertThat(pods.get(ip).configured()).last().isEqualTo(expected);
    }
    assertThat(next).contains("\"name\":\"CLUSTER_A\"", "\"config_revision\":42", "\"config_status\":\"applied\"");

    // the same document at a new revision: nothing to send, the state says the new revision
    int before = pods.get("10.0.0.1").configured().size();
    String again = run(two, next, config, 43);
    assertThat(pods.get("10.0.0.1").configured()).hasSize(before);
    assertThat(again).contains("\"config_revision\":43", "\"config_status\":\"applied\"");

    // back to the defaults ({}): every broker is sent the plain input again
    String plain = run(two, again, "{}", 44);
    assertThat(pods.get("10.0.0.2").configured()).last().isEqualTo(input("10.0.0.1", "10.0.0.2"));
    assertThat(plain).doesNotContain("CLUSTER_A").contains("\"config_revision\":44");
  }

  @Test
  void brokersStillReportingAnErrorForTheSameInputMarkTheConfigurationFailed() throws Exception {
    String config = "{\"name\":\"C2024\"}";
    String ok = pods(record("10.0.0.1", 1, "{}"), record("10.0.0.2", 2, "{}"));
    String applied = run(ok, "", config, 50);
    assertThat(applied).contains("\"config_status\":\"applied\"");

    // the brokers' payloads then say their nats-server -t refused it: the next run marks it failed
    String refused =
        pods(record("10.0.0.1", 1, "{}"), record("10.0.0.2", 2, "{\"config_error\":\"nats-server -t refused /data/nats/nats.conf\"}"));
    String failed = run(refused, applied, config, 50);
    assertThat(failed)
        .contains("\"config_revision\":50", "\"config_status\":\"failed\"", "\"config_failed\":{\"10.0.0.2\":\"nats-server -t refused");
    assertThat(log).anyMatch(l -> l.contains("configuration revision 50 failed on [10.0.0.2]"));

    // once the broker reports no error any more, the configuration is applied
    assertThat(run(ok, failed, config, 50)).contains("\"config_status\":\"applied\"").doesNotContain("config_failed");
  }

  @Test
  void aStoredConfigurationThatDoesNotValidateIsLeftOutAndSaidSo() throws Exception {
    String two = pods(record("10.0.0.1", 1, "{}"), record("10.0.0.2", 2, "{}"));
    String next = run(two, "", "{\"name\":\"A\",\"colour\":\"red\"}", 60);
    assertThat(pods.get("10.0.0.1").configured()).last().isEqualTo(input("10.0.0.1", "10.0.0.2"));
    assertThat(next).contains("\"config_status\":\"invalid\"", "\"config_failed\":\"colour: unknown key");
    assertThat(log).anyMatch(l -> l.contains("the group configuration (revision 60) is not valid, left out: colour: unknown key"));
  }
}
