package io.kontrol.agent.identity;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kontrol.agent.config.Env;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Step 2 of the identity: the pod as the Kubernetes API sees it (its IP, its node's IP, name,
 * labels, annotations), then its node (labels, annotations, ExternalIP).
 *
 * <p>A pod starts before the API has given it an IP: the pod is re-read with a bounded backoff
 * while its IP is empty (the original tried 9 times), then the step fails.
 */
public final class KubernetesIdentity {

  private static final Logger LOG = LoggerFactory.getLogger(KubernetesIdentity.class);

  /** How a retry waits; tests pass one that does not sleep. */
  @FunctionalInterface
  public interface Sleeper {
    void sleep(Duration d) throws InterruptedException;
  }

  public static final int DEFAULT_ATTEMPTS = 9;
  static final Duration FIRST_BACKOFF = Duration.ofMillis(250);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(2);

  private final KubernetesClient client;
  private final int attempts;
  private final Sleeper sleeper;

  public KubernetesIdentity(KubernetesClient client, int attempts, Sleeper sleeper) {
    if (attempts < 1) {
      throw new IllegalArgumentException("attempts must be at least 1");
    }
    this.client = client;
    this.attempts = attempts;
    this.sleeper = sleeper;
  }

  public KubernetesIdentity(KubernetesClient client) {
    this(client, DEFAULT_ATTEMPTS, d -> Thread.sleep(d.toMillis()));
  }

  /** Whether the environment is a pod's: the API server's address is injected by the kubelet. */
  public static boolean inCluster(Map<String, String> env) {
    return Env.of(env).isSet("KUBERNETES_SERVICE_HOST");
  }

  /** A client for the API server of the cluster the pod runs in, with short timeouts. */
  public static KubernetesClient inClusterClient() {
    Config config = new ConfigBuilder(Config.autoConfigure(null))
        .withConnectionTimeout(3_000)
        .withRequestTimeout(5_000)
        .withRequestRetryBackoffLimit(1)
        .build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  /** The pod's name: {@code HOSTNAME}, as the kubelet sets it. */
  public static String podName(Map<String, String> env) throws IdentityException {
    return Env.of(env).string("HOSTNAME")
        .orElseThrow(() -> new IdentityException("HOSTNAME is not set: cannot tell which pod this is"));
  }

  /** The pod's namespace: {@code NAMESPACE} (downward API), else {@code default}. */
  public static String namespace(Map<String, String> env) {
    return Env.of(env).string("NAMESPACE").orElse("default");
  }

  /** Fills in what the API knows and {@code known} lacks. */
  public Identity resolve(Identity known, String namespace, String podName) throws IdentityException, InterruptedException {
    Pod pod = readPodWithIp(namespace, podName);
    Identity id = known
        .withDefault(Identity.ID, pod.getMetadata().getName())
        .withDefault(Identity.IP, pod.getStatus().getPodIP())
        .withDefault(Identity.HOST, pod.getStatus().getHostIP())
        .withDefault(Identity.LABELS, orEmpty(pod.getMetadata().getLabels()))
        .withDefault(Identity.ANNOTATIONS, orEmpty(pod.getMetadata().getAnnotations()));

    String nodeName = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    if (nodeName == null || nodeName.isBlank()) {
      LOG.warn("pod {}/{} has no node name: node labels, annotations and external IP unknown", namespace, podName);
      return id;
    }
    Node node;
    try {
      node = client.nodes().withName(nodeName).get();
    } catch (KubernetesClientException e) {
      // commonly a pod's service account may read pods but not nodes
      LOG.warn("cannot read node {} (HTTP {}): node labels, annotations and external IP unknown", nodeName, e.getCode());
      return id;
    }
    if (node == null) {
      LOG.warn("node {} not found: node labels, annotations and external IP unknown", nodeName);
      return id;
    }
    id = id.withDefault(Identity.NODE_LABELS, orEmpty(node.getMetadata().getLabels()))
        .withDefault(Identity.NODE_ANNOTATIONS, orEmpty(node.getMetadata().getAnnotations()));
    if (node.getStatus() != null && node.getStatus().getAddresses() != null) {
      for (NodeAddress a : node.getStatus().getAddresses()) {
        if ("ExternalIP".equals(a.getType())) {
          id = id.withDefault(Identity.EIP, a.getAddress());
          break;
        }
      }
    }
    return id;
  }

  private Pod readPodWithIp(String namespace, String name) throws IdentityException, InterruptedException {
    Duration backoff = FIRST_BACKOFF;
    String last = "";
    for (int attempt = 1; attempt <= attempts; attempt++) {
      try {
        Pod pod = client.pods().inNamespace(namespace).withName(name).get();
        if (pod == null) {
          last = "pod " + namespace + "/" + name + " not found";
        } else if (pod.getStatus() == null || pod.getStatus().getPodIP() == null || pod.getStatus().getPodIP().isBlank()) {
          last = "pod " + namespace + "/" + name + " has no IP yet";
        } else {
          return pod;
        }
      } catch (KubernetesClientException e) {
        last = "cannot read pod " + namespace + "/" + name + " (HTTP " + e.getCode() + "): " + e.getMessage();
      }
      if (attempt < attempts) {
        LOG.info("{} (read {} of {}), retrying in {} ms", last, attempt, attempts, backoff.toMillis());
        sleeper.sleep(backoff);
        backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
      }
    }
    throw new IdentityException(last + " after " + attempts + " reads");
  }

  private static Map<String, String> orEmpty(Map<String, String> m) {
    return m == null ? Map.of() : m;
  }
}
