package io.kontrol.agent.testing;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.Map;

/**
 * Pods and nodes shaped as a real API server returns them, for fabric8's mock Kubernetes server
 * in CRUD mode (the STAND-IN for a cluster in tests).
 */
public final class KubernetesObjects {

  private KubernetesObjects() {}

  /** A scheduled pod; {@code podIp} null for one the API has not given an IP yet. */
  public static Pod pod(String namespace, String name, String node, String podIp, String hostIp,
      Map<String, String> labels, Map<String, String> annotations) {
    return new PodBuilder()
        .withNewMetadata().withNamespace(namespace).withName(name).withLabels(labels).withAnnotations(annotations)
        .withUid(java.util.UUID.randomUUID().toString()).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("main").withImage("kontrol").endContainer().endSpec()
        .withNewStatus().withPhase(podIp == null ? "Pending" : "Running").withPodIP(podIp).withHostIP(hostIp).endStatus()
        .build();
  }

  /** A node with an InternalIP and, when {@code externalIp} is not null, an ExternalIP. */
  public static Node node(String name, String internalIp, String externalIp, Map<String, String> labels,
      Map<String, String> annotations) {
    NodeBuilder b = new NodeBuilder()
        .withNewMetadata().withName(name).withLabels(labels).withAnnotations(annotations).endMetadata();
    var status = b.withNewStatus().addNewAddress().withType("InternalIP").withAddress(internalIp).endAddress()
        .addNewAddress().withType("Hostname").withAddress(name).endAddress();
    if (externalIp != null) {
      status.addNewAddress().withType("ExternalIP").withAddress(externalIp).endAddress();
    }
    return status.endStatus().build();
  }
}
