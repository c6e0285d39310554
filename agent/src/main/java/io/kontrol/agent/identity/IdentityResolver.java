package io.kontrol.agent.identity;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kontrol.agent.config.Env;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resolves the pod's identity in order, each step skipped when what it would give is already
 * known: (1) the {@code KONTROL_*} variables; (2) the Kubernetes API, in a pod; (3) the EC2
 * instance metadata. {@code KONTROL_MODE} containing {@code debug} skips (2) and (3).
 */
public final class IdentityResolver {

  private static final Logger LOG = LoggerFactory.getLogger(IdentityResolver.class);

  /** What step 2 fills; when all are known the API is not asked. */
  static final String[] FROM_KUBERNETES = {Identity.ID, Identity.IP, Identity.HOST, Identity.LABELS,
      Identity.ANNOTATIONS, Identity.NODE_LABELS, Identity.NODE_ANNOTATIONS};
  static final String[] FROM_EC2 = {Identity.EIP, Identity.EC2_INSTANCE_ID, Identity.EC2_ZONE, Identity.EC2_HOSTNAME};

  private final Map<String, String> env;
  private final Supplier<Optional<KubernetesIdentity>> kubernetes;
  private final Supplier<Optional<Ec2Identity>> ec2;

  /**
   * @param kubernetes step 2, or empty off Kubernetes; only called when the step runs
   * @param ec2 step 3, or empty when disabled; only called when the step runs
   */
  public IdentityResolver(Map<String, String> env, Supplier<Optional<KubernetesIdentity>> kubernetes,
      Supplier<Optional<Ec2Identity>> ec2) {
    this.env = env;
    this.kubernetes = kubernetes;
    this.ec2 = ec2;
  }

  /**
   * The steps this environment asks for.
   *
   * @param client the cluster's API when in a pod (see {@link #needsKubernetes}), else null
   */
  public static IdentityResolver forEnv(Map<String, String> env, KubernetesClient client) {
    return new IdentityResolver(env, () -> Optional.ofNullable(client).map(KubernetesIdentity::new),
        () -> Ec2Identity.fromEnv(env));
  }

  /** Whether resolving needs the Kubernetes API: in a pod, and not in debug mode. */
  public static boolean needsKubernetes(Map<String, String> env) {
    return !debug(env) && KubernetesIdentity.inCluster(env);
  }

  /** Whether {@code KONTROL_MODE} has {@code debug}, which keeps identity to the variables. */
  public static boolean debug(Map<String, String> env) {
    for (String m : Env.of(env).string("KONTROL_MODE").orElse("").split(",")) {
      if (m.trim().equalsIgnoreCase("debug")) {
        return true;
      }
    }
    return false;
  }

  public Identity resolve() throws IdentityException, InterruptedException {
    Identity id;
    try {
      id = Identity.fromEnv(env);
    } catch (IllegalArgumentException e) {
      throw new IdentityException(e.getMessage(), e);
    }
    if (debug(env)) {
      LOG.info("debug mode: identity from the KONTROL_* variables only");
    } else {
      if (!allKnown(id, FROM_KUBERNETES)) {
        Optional<KubernetesIdentity> k8s = kubernetes.get();
        if (k8s.isPresent()) {
          id = k8s.get().resolve(id, KubernetesIdentity.namespace(env), KubernetesIdentity.podName(env));
        }
      }
      if (!allKnown(id, FROM_EC2)) {
        Optional<Ec2Identity> imds = ec2.get();
        if (imds.isPresent()) {
          id = imds.get().resolve(id);
        }
      }
    }
    // off Kubernetes the pod's name is the host name, as it would be in a pod
    id = id.withDefault(Identity.ID, Env.of(env).string("HOSTNAME").orElse(null));
    LOG.info("identity: id={} ip={} host={} eip={}", id.get(Identity.ID), id.get(Identity.IP), id.get(Identity.HOST),
        id.get(Identity.EIP));
    return id;
  }

  private static boolean allKnown(Identity id, String[] names) {
    for (String n : names) {
      if (!id.has(n)) {
        return false;
      }
    }
    return true;
  }
}
