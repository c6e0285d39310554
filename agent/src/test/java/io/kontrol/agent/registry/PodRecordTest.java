package io.kontrol.agent.registry;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kontrol.agent.watch.Snapshot;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(5)
class PodRecordTest {

  @Test
  void base62OfTheIpAsUnsigned32Bits() {
    assertThat(PodRecord.base62("0.0.0.0")).isEqualTo("0");
    assertThat(PodRecord.base62("0.0.0.61")).isEqualTo("Z");
    assertThat(PodRecord.base62("0.0.0.62")).isEqualTo("10");
    assertThat(PodRecord.base62("10.0.0.1")).isEqualTo("blXcB");
    assertThat(decode(PodRecord.base62("10.0.0.1"))).isEqualTo(167772161L);
    assertThat(decode(PodRecord.base62("255.255.255.255"))).isEqualTo(4294967295L);
  }

  private static long decode(String s) {
    String digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    long n = 0;
    for (char c : s.toCharArray()) {
      n = n * 62 + digits.indexOf(c);
    }
    return n;
  }

  @Test
  void recordHasSortedKeysAndSortedPayload() throws Exception {
    var payload = new ObjectMapper().readTree("{\"z\":1,\"a\":{\"y\":2,\"b\":3}}");
    String json = PodRecord.json("nats", "nats-0", "10.0.0.1", "abc", payload, "broker", 3);
    assertThat(json)
        .isEqualTo(
            "{\"app\":\"nats\",\"id\":\"nats-0\",\"ip\":\"10.0.0.1\",\"key\":\""
                + PodRecord.base62("10.0.0.1")
                + "\",\"nonce\":\"abc\",\"payload\":{\"a\":{\"b\":3,\"y\":2},\"z\":1},\"role\":\"broker\",\"seq\":3}");
  }

  @Test
  void md5IsSixteenColonSeparatedLowercasePairsOfThePodsBytes() {
    Snapshot s =
        new Snapshot(
            List.of(new Snapshot.Pod("a", 0, "{\"seq\":0}"), new Snapshot.Pod("b", 1, "{\"seq\":1}")),
            Optional.empty(),
            1);
    assertThat(s.podsJson()).isEqualTo("[{\"seq\":0},{\"seq\":1}]");
    assertThat(s.md5()).matches("([0-9a-f]{2}:){15}[0-9a-f]{2}");
    // md5("") is d41d8cd98f00b204e9800998ecf8427e
    assertThat(Snapshot.md5("")).isEqualTo("d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e");
  }
}
