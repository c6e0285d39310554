package io.kontrol.service.haproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kontrol.service.CallbackException;
import io.kontrol.service.CallbackInput;
import io.kontrol.service.Fanout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader's Route53 step through the real AWS SDK against a local Route53 STAND-IN ({@link
 * Route53StandIn}, REST-XML on 127.0.0.1) reached through {@code AWS_ENDPOINT_URL_ROUTE_53}, with
 * static test keys and the EC2 metadata service disabled, so nothing leaves loopback.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Route53RecordTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;

  private Route53StandIn route53;
  private final List<String> log = Collections.synchronizedList(new ArrayList<>());

  @BeforeAll
  void start() throws Exception {
    route53 = new Route53StandIn();
    // the SDK's credential chain, first link: system properties
    System.setProperty("aws.accessKeyId", "AKIDTEST");
    System.setProperty("aws.secretAccessKey", "test-secret");
    System.setProperty("aws.disableEc2Metadata", "true");
  }

  @AfterAll
  void stop() {
    route53.close();
    System.clearProperty("aws.accessKeyId");
    System.clearProperty("aws.secretAccessKey");
    System.clearProperty("aws.disableEc2Metadata");
  }

  @BeforeEach
  void clear() {
    route53.requests.clear();
  }

  private Map<String, String> env() {
    return Map.of("AWS_ENDPOINT_URL_ROUTE_53", route53.endpoint(), "AWS_EC2_METADATA_DISABLED", "true",
        "KONTROL_PAYLOAD", dir.resolve("payload.json").toString());
  }

  private static String proxy(String ip, String eip) {
    return "{\"app\":\"haproxy\",\"id\":\"p-" + ip + "\",\"ip\":\"" + ip + "\",\"nonce\":\"n-" + ip
        + "\",\"payload\":{\"eip\":\"" + eip + "\"},\"role\":\"balancer\",\"seq\":0}";
  }

  /** Proxies already configured for these (no) hosts: only the DNS step can act. */
  private static final String PODS = "[" + proxy("10.0.0.2", "203.0.113.20") + "," + proxy("10.0.0.1", "203.0.113.3") + "]";
  private static final String STATE =
      "{\"md5\":\"" + Hosts.md5(Map.of()) + "\",\"hosts\":{},\"proxies\":{\"10.0.0.1\":\"n-10.0.0.1\",\"10.0.0.2\":\"n-10.0.0.2\"}}";

  private String run(String state, Optional<String> zone) throws CallbackException {
    Fanout none = new Fanout((ip, s, in) -> "no proxy is to be configured in this test, yet " + ip + " was", log::add);
    try (Route53Record record = Route53Record.fromEnv(env(), log::add)) {
      HaproxyCallback callback =
          new HaproxyCallback("haproxy", none, Optional.of("proxy.example.com"), zone, new ReportingDns(record, env(), log::add), log::add);
      return callback.run(CallbackInput.parse(PODS, state, log::add));
    }
  }

  private static List<String> values(String xml) {
    List<String> values = new ArrayList<>();
    Matcher m = Pattern.compile("<Value>([^<]*)</Value>").matcher(xml);
    while (m.find()) {
      values.add(m.group(1));
    }
    return values;
  }

  @Test
  void oneUpsertWithTheSortedExternalIpsThenNoRequestWhileTheyStayTheSame() throws Exception {
    String state = run(STATE, Optional.empty());

    assertThat(route53.requests).hasSize(2);
    Route53StandIn.Request lookup = route53.requests.get(0);
    assertThat(lookup.method()).isEqualTo("GET");
    assertThat(lookup.path()).isEqualTo("/2013-04-01/hostedzonesbyname");
    assertThat(lookup.query()).contains("dnsname=example.com.");
    Route53StandIn.Request change = route53.changes().get(0);
    assertThat(change.path()).isEqualTo("/2013-04-01/hostedzone/ZTEST/rrset/");
    assertThat(change.authorization()).startsWith("AWS4-HMAC-SHA256 Credential=AKIDTEST/").contains("/route53/aws4_request");
    assertThat(change.body())
        .contains("<Action>UPSERT</Action>")
        .contains("<Name>proxy.example.com.</Name>")
        .contains("<Type>A</Type>")
        .contains("<TTL>60</TTL>");
    assertThat(values(change.body())).containsExactly("203.0.113.3", "203.0.113.20");
    assertThat(JSON.readTree(state).get("route53").toString()).isEqualTo("{\"name\":\"proxy.example.com\",\"ips\":[\"203.0.113.3\",\"203.0.113.20\"]}");
    assertThat(Files.readString(dir.resolve("payload.json"), StandardCharsets.UTF_8)).contains("\"route53\":{").contains("\"status\":\"ok\"");

    route53.requests.clear();
    assertThat(run(state, Optional.empty())).isEqualTo(state);
    assertThat(route53.requests).isEmpty();
  }

  @Test
  void throttlingIsRetriedUntilItSucceeds() throws Exception {
    route53.reply(400, "PriorRequestNotComplete", "The request was rejected because Route 53 was still processing a prior request.");
    route53.reply(400, "PriorRequestNotComplete", "The request was rejected because Route 53 was still processing a prior request.");

    run(STATE, Optional.of("ZTEST"));

    assertThat(route53.changes()).hasSize(3);
    assertThat(route53.requests).hasSize(3); // the zone was given: no lookup
  }

  @Test
  void accessDeniedIsOneRequestAndTheReasonGoesToTheLogAndThePayload() throws Exception {
    route53.reply(403, "AccessDenied", "User: arn:aws:iam::1:role/proxy is not authorized to perform: route53:ChangeResourceRecordSets");

    assertThatThrownBy(() -> run(STATE, Optional.of("/hostedzone/ZTEST")))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("AccessDenied")
        .hasMessageContaining("not authorized");

    assertThat(route53.changes()).hasSize(1);
    String payload = Files.readString(dir.resolve("payload.json"), StandardCharsets.UTF_8);
    assertThat(JSON.readTree(payload).get("route53").get("status").asText()).isEqualTo("error");
    assertThat(payload).contains("AccessDenied");
  }

  @Test
  void anUnknownHostedZoneIsNamedInTheError() {
    assertThatThrownBy(() -> run(STATE, Optional.of("ZMISSING")))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("NoSuchHostedZone")
        .hasMessageContaining("ZMISSING");
    assertThat(route53.requests).hasSize(1);
  }
}
