package io.kontrol.agent.identity;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.io.Closeable;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the own pod through the Kubernetes API so that an annotation change (a new {@code
 * nats.unity3d.com/config}) reaches the running pod: the agent's {@code LiveAnnotations} is told
 * of each new set of annotations.
 *
 * <p>An informer re-lists and re-watches by itself after a lost connection. Its events arrive on
 * the informer's single thread; the listener runs there, for the first event and then only when
 * the annotations differ from the last ones seen, and must not block.
 */
public final class PodWatch implements Closeable {

  private static final Logger LOG = LoggerFactory.getLogger(PodWatch.class);

  private final SharedIndexInformer<Pod> informer;

  private PodWatch(SharedIndexInformer<Pod> informer) {
    this.informer = informer;
  }

  /**
   * Starts watching {@code namespace/name}.
   *
   * @param onChange called with the pod's annotations when first seen and after each change
   */
  public static PodWatch start(KubernetesClient client, String namespace, String name,
      Consumer<Map<String, String>> onChange) {
    AtomicReference<Map<String, String>> last = new AtomicReference<>();
    ResourceEventHandler<Pod> handler = new ResourceEventHandler<>() {
      @Override
      public void onAdd(Pod pod) {
        seen(pod);
      }

      @Override
      public void onUpdate(Pod before, Pod pod) {
        seen(pod);
      }

      @Override
      public void onDelete(Pod pod, boolean unknownFinalState) {
        LOG.info("pod {}/{} deleted", namespace, name);
      }

      private void seen(Pod pod) {
        Map<String, String> now = new TreeMap<>(Objects.requireNonNullElse(pod.getMetadata().getAnnotations(), Map.of()));
        if (now.equals(last.getAndSet(now))) {
          return;
        }
        try {
          onChange.accept(now);
        } catch (RuntimeException e) {
          LOG.warn("annotation listener failed: {}", e.toString());
        }
      }
    };
    SharedIndexInformer<Pod> informer = client.pods().inNamespace(namespace).withName(name).inform(handler, 0);
    LOG.info("watching pod {}/{} for annotation changes through the Kubernetes API", namespace, name);
    return new PodWatch(informer);
  }

  @Override
  public void close() {
    informer.close();
  }
}
