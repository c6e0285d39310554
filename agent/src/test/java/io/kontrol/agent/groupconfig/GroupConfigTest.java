package io.kontrol.agent.groupconfig;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Timeout(30)
class GroupConfigTest {

  /** The seed's request payload, as written there. */
  static final String SEED =
      "{\n  \"name\": \"CLUSTER_A\",\n  \"routes\": [\n    \"nats://nats-0.nats.default.svc:6222\",\n"
          + "    \"nats://nats-1.nats.default.svc:6222\",\n    \"nats://nats-2.nats.default.svc:6222\",\n"
          + "    \"nats://another-route:6222\"\n  ]\n}";

  @Test
  void theSeedsPayloadIsAcceptedAsWritten() throws Exception {
    GroupConfig c = GroupConfig.parse(SEED);
    assertThat(c.name()).contains("CLUSTER_A");
    assertThat(c.routes()).hasSize(4).contains("nats://another-route:6222");
    assertThat(c.leafnodes()).isEmpty();
    assertThat(c.json())
        .isEqualTo(
            "{\"name\":\"CLUSTER_A\",\"routes\":[\"nats://nats-0.nats.default.svc:6222\",\"nats://nats-1.nats.default.svc:6222\","
                + "\"nats://nats-2.nats.default.svc:6222\",\"nats://another-route:6222\"]}");
    assertThat(GroupConfig.parse(c.json())).isEqualTo(c);
    assertThat(GroupConfig.parse(c.pretty())).isEqualTo(c);
  }

  @Test
  void leafnodeRemotesTakeAnOptionalCredentialsFile() throws Exception {
    GroupConfig c =
        GroupConfig.parse(
            "{\"leafnodes\": [{\"url\": \"nats-leaf://hub.example.com:7422\", \"credentials\": \"/etc/nats/hub.creds\"},"
                + " {\"url\": \"tls://10.1.2.3:7422\"}], \"routes\": [\"nats-route://10.0.0.9:4244\"]}");
    assertThat(c.name()).isEmpty();
    assertThat(c.leafnodes())
        .containsExactly(
            new GroupConfig.Remote("nats-leaf://hub.example.com:7422", Optional.of("/etc/nats/hub.creds")),
            new GroupConfig.Remote("tls://10.1.2.3:7422", Optional.empty()));
    // canonical order: name, routes, leafnodes
    assertThat(c.json()).startsWith("{\"routes\":").contains("\"leafnodes\":[{\"url\":\"nats-leaf://hub.example.com:7422\",\"credentials\"");
  }

  @Test
  void anEmptyObjectIsEveryDefault() throws Exception {
    assertThat(GroupConfig.parse("{}")).isEqualTo(GroupConfig.EMPTY);
    assertThat(GroupConfig.parse("{\"name\": null, \"routes\": [], \"leafnodes\": null}")).isEqualTo(GroupConfig.EMPTY);
    assertThat(GroupConfig.EMPTY.json()).isEqualTo("{}");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock = """
        not JSON                | {"name": "A",                                    | not JSON: line 1 column
        not JSON at all         | name=A                                           | not JSON: line 1 column 5: Unrecognized token 'name'
        trailing garbage        | {"name": "A"} x                                  | not JSON: line 1 column
        duplicate key           | {"name": "A", "name": "B"}                       | not JSON: line 1 column 21: Duplicate field 'name'
        not an object           | ["nats://a:1"]                                   | expected a JSON object, found array
        empty                   | '   '                                            | the configuration is empty
        unknown key             | {"name": "A", "cluster": {}}                     | cluster: unknown key (expected name, routes, leafnodes)
        unknown key in remote   | {"leafnodes": [{"url": "nats://h:7422", "account": "A"}]} | leafnodes[0].account: unknown key (expected url, credentials)
        name not a string       | {"name": 7}                                      | name: expected a string, found number 7
        name with a space       | {"name": "CLUSTER A"}                            | name: "CLUSTER A" is not a cluster name
        name with a dot         | {"name": "a.b"}                                  | name: "a.b" is not a cluster name
        name empty              | {"name": ""}                                     | name: "" is not a cluster name
        routes not an array     | {"routes": "nats://a:4244"}                      | routes: expected an array, found string
        route not a string      | {"routes": [4244]}                               | routes[0]: expected a URL string, found number 4244
        route http              | {"routes": ["nats://a:4244", "http://b:4244"]}   | routes[1]: "http://b:4244" is not a nats-route:// or nats:// URL
        route no scheme         | {"routes": ["10.0.0.1:4244"]}                    | routes[0]: "10.0.0.1:4244" does not parse as a URL: Illegal character in scheme name at index 0
        route other scheme      | {"routes": ["tls://10.0.0.1:4244"]}              | routes[0]: "tls://10.0.0.1:4244" is not a nats-route:// or nats:// URL
        route does not parse    | {"routes": ["nats://a b:4244"]}                  | routes[0]: "nats://a b:4244" does not parse as a URL: Illegal character in authority at index 7
        route no host           | {"routes": ["nats-route://:4244"]}               | routes[0]: "nats-route://:4244" has no host
        route bad port          | {"routes": ["nats://a:99999"]}                   | routes[0]: "nats://a:99999" has port 99999 (expected 1 to 65535)
        route path              | {"routes": ["nats://a:4244/x"]}                  | routes[0]: "nats://a:4244/x" has a path, query or fragment
        leafnode not object     | {"leafnodes": ["nats-leaf://h:7422"]}            | leafnodes[0]: expected an object
        leafnode no url         | {"leafnodes": [{"credentials": "/a.creds"}]}     | leafnodes[0].url: expected a URL string, found nothing
        leafnode does not parse | {"leafnodes": [{"url": "nats-leaf://[::1:7422"}]} | leafnodes[0].url: "nats-leaf://[::1:7422" does not parse as a URL
        leafnode scheme         | {"leafnodes": [{"url": "https://h:7422"}]}       | leafnodes[0].url: "https://h:7422" is not a nats-leaf://, nats://, tls://, ws:// or wss:// URL
        credentials relative    | {"leafnodes": [{"url": "nats://h:7422", "credentials": "hub.creds"}]} | leafnodes[0].credentials: "hub.creds" is not an absolute file name
        credentials quote       | {"leafnodes": [{"url": "nats://h:7422", "credentials": "/a\\"b"}]} | leafnodes[0].credentials: "/a\\"b" is not an absolute file name
        credentials not string  | {"leafnodes": [{"url": "nats://h:7422", "credentials": true}]} | leafnodes[0].credentials: expected a file name, found boolean true
        """)
  void badInputIsRefusedNamingTheField(String what, String json, String message) {
    assertThatThrownBy(() -> GroupConfig.parse(json)).isInstanceOf(GroupConfigException.class).hasMessageContaining(message);
  }

  @Test
  void aDocumentOver64KiBIsRefused() {
    String big = "{\"routes\": [" + String.join(",", java.util.Collections.nCopies(3000, "\"nats://a-long-host-name.example.com:4244\"")) + "]}";
    assertThatThrownBy(() -> GroupConfig.parse(big)).hasMessageContaining("at most 65536 are accepted");
  }

  @Test
  void moreThan64RoutesAreRefused() {
    String many = "{\"routes\": [" + String.join(",", java.util.Collections.nCopies(65, "\"nats://h:4244\"")) + "]}";
    assertThatThrownBy(() -> GroupConfig.parse(many)).hasMessage("routes: 65 entries; at most 64");
  }

  @Test
  void aMessageIsOneLine() {
    for (String bad : List.of("{\"name\": \"a\nb\"}", "{\n\"x\": 1}", "{\"routes\": [\"nats://a:1\",\n 3]}")) {
      assertThatThrownBy(() -> GroupConfig.parse(bad)).satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
  }
}
