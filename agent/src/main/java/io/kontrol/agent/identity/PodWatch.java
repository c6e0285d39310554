package io.kontrol.agent.identity;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the own pod so that an annotation change (a new {@code haproxy.unity3d.com/config})
 * reaches the pod without a restart: the live annotations are written to {@code
 * KONTROL_ANNOTATIONS_FILE} (see {@link Annotations}) and handed to a listener.
 *
 * <p>An informer re-lists and re-watches by itself after a lost connection. Its events arrive on
 * the informer's single thread; the listener runs there, only when the annotations differ from
 * the last ones seen, and must not block for long.
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
   * @param file where to keep the live annotations, or null for none
   * @param initial the annotations already known (from the identity), so that an unchanged pod
   *     fires nothing; the file is written with them at once
   * @param onChange called with the new annotations after each change
   */
  public static PodWatch start(KubernetesClient client, String namespace, String name, Path file,
      Map<String, String> initial, Consumer<Map<String, String>> onChange) {
    AtomicReference<Map<String, String>> last = new AtomicReference<>(new TreeMap<>(initial));
    if (file != null) {
      write(file, last.get());
    }
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
        LOG.info("pod {}/{} annotations changed: {}", namespace, name, now.keySet());
        if (file != null) {
          write(file, now);
        }
        try {
          onChange.accept(now);
        } catch (RuntimeException e) {
          LOG.warn("annotation listener failed: {}", e.toString());
        }
      }
    };
    SharedIndexInformer<Pod> informer = client.pods().inNamespace(namespace).withName(name).inform(handler, 0);
    LOG.info("watching pod {}/{} for annotation changes{}", namespace, name, file == null ? "" : " into " + file);
    return new PodWatch(informer);
  }

  private static void write(Path file, Map<String, String> annotations) {
    try {
      Annotations.write(file, annotations);
    } catch (IOException e) {
      LOG.warn("cannot write annotations to {}: {}", file, e.getMessage());
    }
  }

  @Override
  public void close() {
    informer.close();
  }
}
