package io.kontrol.agent.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

@Timeout(120)
class EtcdClusterTest {

  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(3).build();

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  @Test
  void threeMembersServeAndSurviveAMemberRestartAndAFullOutage() throws Exception {
    assertThat(ETCD.endpoints()).hasSize(3);
    try (Client c = ETCD.newClient()) {
      c.getKVClient().put(bytes("/t/a"), bytes("1")).get(10, TimeUnit.SECONDS);
      ETCD.restart(1);
      assertThat(ETCD.isRunning(1)).isTrue();
      ETCD.stopAll();
      assertThat(ETCD.isRunning(0)).isFalse();
      ETCD.startAll();
      var got = c.getKVClient().get(bytes("/t/a")).get(20, TimeUnit.SECONDS);
      assertThat(got.getKvs()).hasSize(1);
      assertThat(got.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8)).isEqualTo("1");
    }
  }
}
