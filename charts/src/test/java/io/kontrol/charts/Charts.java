package io.kontrol.charts;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * The charts as Helm sees them, for the tests: a copy of {@code charts/} under {@code target/}
 * (Helm's dependency update writes {@code charts/*.tgz} and {@code Chart.lock} into a chart, and the
 * tests mutate charts), with the {@code file://} dependencies built, and {@code helm template} run
 * in-process through helm-java. No cluster, no helm binary, no network.
 */
final class Charts {

  /** The charts in dependency order: a chart's dependencies come before it. */
  static final List<String> ALL = List.of("kontrol-common", "etcd", "nats", "haproxy", "kafka");
  /** The charts that install something. */
  static final List<String> APPLICATIONS = List.of("etcd", "nats", "haproxy", "kafka");
  /** The service charts (the kontrol agent runs in their pods). */
  static final List<String> SERVICES = List.of("nats", "haproxy", "kafka");
  static final List<String> KUBE_VERSIONS = List.of("1.29.0", "1.33.0");
  static final String NAMESPACE = "kontrol-test";

  private static final Path SOURCE = Path.of(System.getProperty("kontrol.charts", "."));
  private static final Path WORK = Path.of(System.getProperty("kontrol.work", "target/charts-work"));
  private static final AtomicInteger COPIES = new AtomicInteger();
  private static final Map<String, String> RENDERED = new ConcurrentHashMap<>();
  private static Path tree;

  private Charts() {}

  /** The project's version (the Maven build passes it). */
  static String projectVersion() {
    return System.getProperty("kontrol.version", "0.1.0-SNAPSHOT");
  }

  /** The tested copy of every chart, dependencies built; made once per test JVM. */
  static synchronized Path tree() {
    if (tree == null) {
      tree = copy("charts");
    }
    return tree;
  }

  /** A fresh, separate copy of every chart (for mutants and version bumps), dependencies built. */
  static Path freshCopy(String name) {
    return copy(name + "-" + COPIES.incrementAndGet());
  }

  /** Rebuilds a copy's dependencies after its files were changed. */
  static void buildDependencies(Path root) {
    for (String chart : ALL) {
      if (Files.exists(root.resolve(chart).resolve("charts"))) {
        deleteTree(root.resolve(chart).resolve("charts"));
      }
      if (!chart.equals("kontrol-common")) {
        new Helm(root.resolve(chart)).dependency().update().skipRefresh().call();
      }
    }
  }

  static Path chart(String name) {
    return tree().resolve(name);
  }

  /** The value variants of a chart: its ci/*.yaml files. */
  static List<Path> ciValues(String chart) {
    try (Stream<Path> files = Files.list(SOURCE.resolve(chart).resolve("ci"))) {
      return files.filter(p -> p.toString().endsWith(".yaml")).sorted().map(p -> chart(chart).resolve("ci").resolve(p.getFileName())).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code helm template <chart>} as release {@code <chart>} in {@link #NAMESPACE}; results of the
   * tested tree are cached (rendering is pure apart from the generated token).
   *
   * @param values a values file, or null
   * @throws IllegalStateException with Helm's message when the chart does not render
   */
  static String template(Path chartDir, Path values, String kubeVersion, Map<String, String> set) {
    String key = chartDir + "|" + values + "|" + kubeVersion + "|" + set;
    boolean cacheable = chartDir.startsWith(tree());
    if (cacheable && RENDERED.containsKey(key)) {
      return RENDERED.get(key);
    }
    TemplateCommand t = new Helm(chartDir).template()
        .withName(chartDir.getFileName().toString())
        .withNamespace(NAMESPACE)
        .withKubeVersion(kubeVersion);
    if (values != null) {
      t = t.withValuesFile(values);
    }
    for (Map.Entry<String, String> e : set.entrySet()) {
      t = t.set(e.getKey(), e.getValue());
    }
    String out = t.call();
    if (cacheable) {
      RENDERED.put(key, out);
    }
    return out;
  }

  static String template(String chart, Path values, String kubeVersion) {
    return template(chart(chart), values, kubeVersion, Map.of());
  }

  /** The chart with its defaults on the newest tested Kubernetes. */
  static String template(String chart) {
    return template(chart, null, KUBE_VERSIONS.get(KUBE_VERSIONS.size() - 1));
  }

  static String read(Path p) {
    try {
      return Files.readString(p, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void write(Path p, String text) {
    try {
      Files.writeString(p, text, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Replaces text in a file of a copy, failing when the text is not there (a mutant must bite). */
  static void replace(Path file, String from, String to) {
    String text = read(file);
    if (!text.contains(from)) {
      throw new IllegalArgumentException(file + " has no \"" + from + "\"");
    }
    write(file, text.replace(from, to));
  }

  private static synchronized Path copy(String name) {
    ApiServer.forHelm(); // Helm's lookup needs an API server, even for template and lint
    Path root = WORK.resolve(name);
    try {
      if (Files.exists(root)) {
        deleteTree(root);
      }
      Files.createDirectories(root);
      for (String chart : ALL) {
        copyTree(SOURCE.resolve(chart), root.resolve(chart));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    buildDependencies(root);
    return root;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    Files.walkFileTree(from, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        Path rel = from.relativize(dir);
        // a chart's vendored dependencies are rebuilt from the sources
        if (rel.toString().equals("charts")) {
          return FileVisitResult.SKIP_SUBTREE;
        }
        Files.createDirectories(to.resolve(rel.toString()));
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        if (!file.getFileName().toString().equals("Chart.lock")) {
          Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.REPLACE_EXISTING);
        }
        return FileVisitResult.CONTINUE;
      }
    });
  }

  static void deleteTree(Path root) {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
