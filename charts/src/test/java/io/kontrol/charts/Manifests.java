package io.kontrol.charts;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rendered manifests as typed fabric8 objects, strictly: a document whose kind is unknown, whose
 * API is not served by the Kubernetes versions the charts support, whose field has the wrong type,
 * or which carries a field the Kubernetes API does not have, is refused with the template it came
 * from and the field's path.
 *
 * <p>fabric8's models accept unknown fields silently into {@code additionalProperties} (a
 * {@code @JsonAnySetter}); {@link #strict} walks every object reached from the document and fails on
 * any such field, so {@code readinesProbe} or a field of a newer API is caught.
 */
final class Manifests {

  /** A rendered document: its template ({@code # Source:}) and the typed object. */
  record Doc(String source, HasMetadata object) {
    String kind() {
      return object.getKind();
    }

    String name() {
      return object.getMetadata().getName();
    }

    <T> T as(Class<T> type) {
      return type.cast(object);
    }

    @Override
    public String toString() {
      return kind() + " " + name() + " (" + source + ")";
    }
  }

  /** The APIs the charts may use: served by every Kubernetes from 1.29 to 1.33. */
  static final Set<String> SERVED = Set.of(
      "v1/Service", "v1/ServiceAccount", "v1/Secret", "v1/Pod", "v1/ConfigMap",
      "apps/v1/StatefulSet", "apps/v1/Deployment", "apps/v1/DaemonSet",
      "policy/v1/PodDisruptionBudget",
      "rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding",
      "rbac.authorization.k8s.io/v1/ClusterRole", "rbac.authorization.k8s.io/v1/ClusterRoleBinding");

  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
  private static final Pattern SOURCE = Pattern.compile("^# Source: (\\S+)", Pattern.MULTILINE);

  private Manifests() {}

  /**
   * Every document of a {@code helm template} output, loaded and checked.
   *
   * @throws AssertionError naming the template and the field, at the first bad document
   */
  static List<Doc> load(String rendered) {
    List<Doc> docs = new ArrayList<>();
    for (String text : rendered.split("(?m)^---\\s*$")) {
      Matcher m = SOURCE.matcher(text);
      String source = m.find() ? m.group(1) : "(no source)";
      if (text.lines().allMatch(l -> l.isBlank() || l.startsWith("#"))) {
        continue;
      }
      Object loaded;
      try {
        loaded = SERIALIZATION.unmarshal(text);
      } catch (RuntimeException e) {
        throw new AssertionError(source + ": does not load as a Kubernetes object: " + rootCause(e), e);
      }
      if (!(loaded instanceof HasMetadata object)) {
        throw new AssertionError(source + ": not a Kubernetes object: " + loaded);
      }
      if (object instanceof GenericKubernetesResource) {
        throw new AssertionError(source + ": unknown kind " + object.getApiVersion() + "/" + object.getKind());
      }
      String api = object.getApiVersion() + "/" + object.getKind();
      if (!SERVED.contains(api)) {
        throw new AssertionError(source + ": " + api + " is not served by Kubernetes 1.29 to 1.33"
            + " (or not one the charts may use)");
      }
      List<String> unknown = new ArrayList<>();
      strict(object, object.getKind(), unknown, new IdentityHashMap<>());
      if (!unknown.isEmpty()) {
        throw new AssertionError(source + ": fields the Kubernetes API does not have: " + unknown);
      }
      docs.add(new Doc(source, object));
    }
    return docs;
  }

  /** Collects the path of every field that landed in an {@code additionalProperties} map. */
  static void strict(Object o, String path, List<String> unknown, Map<Object, Boolean> seen) {
    if (o == null || seen.put(o, Boolean.TRUE) != null) {
      return;
    }
    if (o instanceof Map<?, ?> map) {
      map.forEach((k, v) -> strict(v, path + "." + k, unknown, seen));
      return;
    }
    if (o instanceof Collection<?> list) {
      int i = 0;
      for (Object v : list) {
        strict(v, path + "[" + i++ + "]", unknown, seen);
      }
      return;
    }
    if (!o.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
      return; // strings, numbers, Quantity's value...
    }
    for (Class<?> c = o.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers())) {
          continue;
        }
        Object v;
        try {
          f.setAccessible(true);
          v = f.get(o);
        } catch (ReflectiveOperationException | RuntimeException e) {
          throw new IllegalStateException("cannot read " + c.getName() + "." + f.getName(), e);
        }
        if (f.getName().equals("additionalProperties")) {
          if (v instanceof Map<?, ?> extra && !extra.isEmpty()) {
            extra.keySet().forEach(k -> unknown.add(path + "." + k));
          }
        } else {
          strict(v, path + "." + f.getName(), unknown, seen);
        }
      }
    }
  }

  static <T> List<T> all(List<Doc> docs, Class<T> type) {
    return docs.stream().map(Doc::object).filter(type::isInstance).map(type::cast).toList();
  }

  static <T> T one(List<Doc> docs, Class<T> type) {
    List<T> all = all(docs, type);
    if (all.size() != 1) {
      throw new AssertionError("expected one " + type.getSimpleName() + ", got " + all.size());
    }
    return all.get(0);
  }

  private static String rootCause(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage();
  }
}
