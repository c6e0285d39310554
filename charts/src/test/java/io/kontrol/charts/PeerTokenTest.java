package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The peer API token: generated at install, the same after an upgrade (Helm's {@code lookup} finds
 * the Secret in the cluster; here the STAND-IN API server Helm is pointed at), never rendered when
 * the operator names a Secret of their own.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PeerTokenTest {

  private static String token(List<Manifests.Doc> docs) {
    Secret s = Manifests.one(docs, Secret.class);
    assertThat(s.getMetadata().getAnnotations()).containsEntry("helm.sh/resource-policy", "keep");
    return new String(Base64.getDecoder().decode(s.getData().get("token")));
  }

  @Test
  void anInstallGeneratesATokenAndAnUpgradeKeepsIt() {
    // a release of its own name, so that no other test's Secret is in the way
    Map<String, String> release = Map.of("fullnameOverride", "token-kept");
    String first = token(Manifests.load(Charts.template(Charts.chart("kafka"), null, "1.33.0", release)));
    String second = token(Manifests.load(Charts.template(Charts.chart("kafka"), null, "1.33.0",
        Map.of("fullnameOverride", "token-kept", "replicas", "4"))));
    assertThat(first).as("with no Secret in the cluster, each render is an install").hasSize(48).isNotEqualTo(second);

    // installed: the Secret is in the cluster; an upgrade renders the same token
    ApiServer.forHelm().client().secrets().inNamespace(Charts.NAMESPACE).resource(new SecretBuilder()
        .withNewMetadata().withName("token-kept-peer-token").endMetadata()
        .addToData("token", Base64.getEncoder().encodeToString(first.getBytes())).build()).create();
    String upgraded = token(Manifests.load(Charts.template(Charts.chart("kafka"), null, "1.33.0",
        Map.of("fullnameOverride", "token-kept", "replicas", "5"))));
    assertThat(upgraded).isEqualTo(first);
  }

  @Test
  void aNamedSecretIsUsedAndNoneIsRendered() {
    List<Manifests.Doc> docs = Manifests.load(Charts.template(Charts.chart("nats"), null, "1.33.0",
        Map.of("kontrol.peerToken.existingSecret", "ops-token", "kontrol.peerToken.key", "peer")));
    assertThat(Manifests.all(docs, Secret.class)).isEmpty();
    StatefulSet sts = Manifests.one(docs, StatefulSet.class);
    Volume v = sts.getSpec().getTemplate().getSpec().getVolumes().stream().filter(x -> x.getName().equals("peer-token")).findFirst().orElseThrow();
    assertThat(v.getSecret().getSecretName()).isEqualTo("ops-token");
    assertThat(sts.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv())
        .anySatisfy(e -> {
          assertThat(e.getName()).isEqualTo("KONTROL_TOKEN_FILE");
          assertThat(e.getValue()).isEqualTo("/etc/kontrol/peer/peer");
        });
  }
}
