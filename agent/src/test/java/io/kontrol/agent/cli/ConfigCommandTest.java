package io.kontrol.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code kontrol config get|put} against a real etcd. */
@Timeout(120)
class ConfigCommandTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  @TempDir Path dir;

  record Run(int code, String out, String err) {}

  static Run kontrol(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = KontrolCommand.commandLine(new KontrolCommand(Map.of("KONTROL_ETCD", ETCD.endpointList())));
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  static String app() {
    return "cfg" + ThreadLocalRandom.current().nextInt(100_000, 999_999);
  }

  static KeyValue stored(String app) throws Exception {
    List<KeyValue> kvs =
        ETCD.client()
            .getKVClient()
            .get(ByteSequence.from(new Group("default", app).configKey(), StandardCharsets.UTF_8))
            .get(5, TimeUnit.SECONDS)
            .getKvs();
    return kvs.isEmpty() ? null : kvs.get(0);
  }

  @Test
  void putStoresTheCanonicalDocumentAndGetReturnsItWithItsRevision() throws Exception {
    String app = app();
    Path f = Files.writeString(dir.resolve("c.json"), "{\"routes\": [\"nats://10.9.9.9:4244\"],\n \"name\": \"CLUSTER_A\"}\n");
    Run put = kontrol("config", "put", app, f.toString());
    assertThat(put.code()).as(put.err()).isZero();
    long rev = Long.parseLong(put.out().strip());
    KeyValue kv = stored(app);
    assertThat(kv.getValue().toString(StandardCharsets.UTF_8)).isEqualTo("{\"name\":\"CLUSTER_A\",\"routes\":[\"nats://10.9.9.9:4244\"]}");
    assertThat(kv.getModRevision()).isEqualTo(rev);
    assertThat(put.err()).contains("default/" + app + " stored at revision " + rev);

    Run get = kontrol("config", "get", "default/" + app);
    assertThat(get.code()).isZero();
    assertThat(get.out()).isEqualTo("{\n  \"name\" : \"CLUSTER_A\",\n  \"routes\" : [ \"nats://10.9.9.9:4244\" ]\n}\n");
    assertThat(get.err()).contains("default/" + app + " revision " + rev);

    // what get prints goes back in through stdin: same document, a new revision
    ConfigPutCommand.stdin = new ByteArrayInputStream(get.out().getBytes(StandardCharsets.UTF_8));
    try {
      Run again = kontrol("config", "put", app, "-");
      assertThat(again.code()).as(again.err()).isZero();
      assertThat(Long.parseLong(again.out().strip())).isGreaterThan(rev);
    } finally {
      ConfigPutCommand.stdin = System.in;
    }
    assertThat(stored(app).getValue().toString(StandardCharsets.UTF_8)).isEqualTo(kv.getValue().toString(StandardCharsets.UTF_8));
  }

  @Test
  void getOfAGroupNeverConfiguredIsTheDefaultsAtRevisionZero() {
    Run get = kontrol("config", "get", app());
    assertThat(get.code()).isZero();
    assertThat(get.out()).isEqualTo("{ }\n");
    assertThat(get.err()).contains("has no configuration (revision 0): the defaults apply");
  }

  @Test
  void dryRunShowsTheDiffAndStoresNothing() throws Exception {
    String app = app();
    Path first = Files.writeString(dir.resolve("a.json"), "{\"name\": \"A\"}");
    assertThat(kontrol("config", "put", app, first.toString()).code()).isZero();
    long rev = stored(app).getModRevision();
    Path second = Files.writeString(dir.resolve("b.json"), "{\"name\": \"B\", \"leafnodes\": [{\"url\": \"nats-leaf://hub:7422\"}]}");
    Run dry = kontrol("config", "put", "--dry-run", app, second.toString());
    assertThat(dry.code()).as(dry.err()).isZero();
    assertThat(dry.out()).contains("--- default/" + app + " revision " + rev, "-  \"name\" : \"A\"", "+  \"name\" : \"B\",", "+    \"url\" : \"nats-leaf://hub:7422\"");
    assertThat(dry.err()).contains("would change from revision " + rev + "; nothing stored");
    assertThat(stored(app).getModRevision()).isEqualTo(rev);

    Run same = kontrol("config", "put", "--dry-run", app, first.toString());
    assertThat(same.code()).isZero();
    assertThat(same.out()).isEmpty();
    assertThat(same.err()).contains("unchanged from revision " + rev);
  }

  @Test
  void badDocumentsAreRefusedWithTheFieldAndNothingIsStored() throws Exception {
    String app = app();
    Map<String, String> bad =
        Map.of(
            "{\"name\": \"A\"",
            "not JSON: line 1 column",
            "{\"name\": \"A\", \"colour\": \"red\"}",
            "colour: unknown key",
            "{\"routes\": [\"http://10.0.0.1:4244\"]}",
            "routes[0]: \"http://10.0.0.1:4244\" is not a nats-route:// or nats:// URL",
            "{\"name\": \"two words\"}",
            "name: \"two words\" is not a cluster name",
            "{\"leafnodes\": [{\"url\": \"nats-leaf://[bad:7422\"}]}",
            "leafnodes[0].url: \"nats-leaf://[bad:7422\" does not parse as a URL");
    int i = 0;
    for (Map.Entry<String, String> e : bad.entrySet()) {
      Path f = Files.writeString(dir.resolve("bad" + i++ + ".json"), e.getKey());
      for (String mode : List.of("--dry-run", "--timeout=5")) {
        Run r = kontrol("config", "put", mode, app, f.toString());
        assertThat(r.code()).as(e.getKey()).isEqualTo(1);
        assertThat(r.err()).as(e.getKey()).startsWith("kontrol config put: refused: " + f + ": ").contains(e.getValue(), "(nothing stored)");
        assertThat(r.err().lines()).hasSize(1);
        assertThat(r.out()).isEmpty();
      }
    }
    assertThat(stored(app)).isNull();
  }

  @Test
  void usageErrorsExitTwo() {
    assertThat(kontrol("config", "put", app(), dir.resolve("missing.json").toString()).code()).isEqualTo(2);
    assertThat(kontrol("config", "put", app()).code()).isEqualTo(2);
    Run r = kontrol("config", "get", "a/b/c");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("expected APP or NS/APP, not 'a/b/c'");
    assertThat(kontrol("config", "get", "bad app").code()).isEqualTo(2);
  }

  @Test
  void etcdNotAnsweringExitsThreeWithinTheTimeout() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    Path f = Files.writeString(dir.resolve("ok.json"), "{\"name\": \"A\"}");
    for (String[] args :
        List.of(
            new String[] {"config", "get", app(), "--etcd", "127.0.0.1:" + closed, "--timeout", "2"},
            new String[] {"config", "put", app(), f.toString(), "--etcd", "127.0.0.1:" + closed, "--timeout", "2"})) {
      long t0 = System.nanoTime();
      Run r = kontrol(args);
      assertThat(r.code()).as(r.err()).isEqualTo(3);
      assertThat(r.err()).contains("etcd did not answer within 2000 ms");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(8));
    }
  }
}
