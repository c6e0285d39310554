package io.kontrol.agent.annotations;

import static java.nio.file.StandardWatchEventKinds.ENTRY_CREATE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_DELETE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_MODIFY;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kontrol.agent.config.Env;
import io.kontrol.agent.identity.Annotations;
import io.kontrol.agent.identity.KubernetesIdentity;
import io.kontrol.agent.identity.PodInfo;
import io.kontrol.agent.identity.PodInfoException;
import io.kontrol.agent.identity.PodWatch;
import io.kontrol.agent.rpc.LastInputs;
import io.kontrol.automaton.client.AutomatonClient;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the pod's annotations while the agent runs, and brings the pod's lifecycle up to date
 * when they change.
 *
 * <p>Sources: the Downward API file {@code <KONTROL_PODINFO>/annotations} (default {@code
 * /etc/podinfo}, see {@link PodInfo}) whenever it exists, its directory watched (the kubelet swaps
 * a {@code ..data} symlink; a plain rewrite of {@code annotations} is seen too, and the file is
 * re-read every few seconds in case an event was missed); else, in a pod, the Kubernetes API
 * ({@link PodWatch}); else the annotations stay those of {@code KONTROL_ANNOTATIONS}.
 *
 * <p>On a change, in this order: the annotations file {@code KONTROL_ANNOTATIONS_FILE} is
 * replaced (atomically, {@link Annotations#write}); the automaton is sent {@code SET
 * KONTROL_ANNOTATIONS <json>}; and when an annotation of the service changed (any key outside
 * {@code kontrol.unity3d.com/} and the Kubernetes domains, e.g. {@code nats.unity3d.com/config}),
 * the automaton is sent {@code WAIT configure <input>} with the last input the leader sent this
 * pod for {@code configure} ({@link LastInputs}), so a fixed template applies with no group
 * change. A malformed file is logged once, with file and line, and changes nothing.
 *
 * <p>Threads: one executor thread ({@code kontrol-annotations}) owns the annotations and does all
 * of the above; the directory watch ({@code kontrol-podinfo}) and the informer only hand it work.
 */
public final class LiveAnnotations implements Closeable {

  private static final Logger LOG = LoggerFactory.getLogger(LiveAnnotations.class);

  /** The state re-run with its last input when a service annotation changes. */
  public static final String RERUN_STATE = "configure";

  static final Duration SET_TIMEOUT = Duration.ofSeconds(2);
  static final Duration RERUN_TIMEOUT = Duration.ofSeconds(60);
  /** How often the file is re-read without an event; when its directory is missing, every second. */
  static final Duration RESCAN = Duration.ofSeconds(5);

  private static final Set<String> FOREIGN_DOMAINS = Set.of("kontrol.unity3d.com", "kubernetes.io", "k8s.io");

  private final String pod;
  private final Path podinfoDir;
  private final Path podinfoFile;
  private final Path annotationsFile;
  private final AutomatonClient automaton;
  private final LastInputs inputs;
  private final KubernetesClient api;
  private final String namespace;
  private final ExecutorService executor;
  private final WatchService watcher;
  private final Thread podinfoThread;
  private volatile boolean closed;
  /** True while etcd cannot be reached (the agent's failsafe): re-runs wait for its end. */
  private volatile BooleanSupplier failsafe = () -> false;

  // owned by the executor thread
  private Map<String, String> current = Map.of();
  private boolean fileExists;
  private byte[] lastRead;
  private String lastReadError;
  private PodWatch podWatch;
  /** Service annotations changed while in failsafe, whose re-run waits for etcd. */
  private final Set<String> held = new TreeSet<>();

  private LiveAnnotations(Map<String, String> env, String pod, Path socket, LastInputs inputs, KubernetesClient api)
      throws IOException {
    this.pod = pod;
    this.podinfoDir = PodInfo.dir(env);
    this.podinfoFile = PodInfo.file(env);
    this.annotationsFile = Env.of(env).path(Annotations.FILE_VARIABLE).orElse(null);
    this.automaton = new AutomatonClient(socket);
    this.inputs = inputs;
    this.api = api;
    this.namespace = KubernetesIdentity.namespace(env);
    this.executor = Executors.newSingleThreadExecutor(r -> daemon(r, "kontrol-annotations"));
    this.watcher = FileSystems.getDefault().newWatchService();
    this.podinfoThread = daemon(this::watchDirectory, "kontrol-podinfo");
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /**
   * Starts following the annotations of pod {@code pod}; returns once the annotations file holds
   * the current ones.
   *
   * @param env the agent's environment ({@code KONTROL_PODINFO}, {@code KONTROL_ANNOTATIONS},
   *     {@code KONTROL_ANNOTATIONS_FILE}, {@code NAMESPACE})
   * @param socket the automaton's socket
   * @param inputs the last inputs the peer API received
   * @param api the Kubernetes API to watch the pod through when there is no Downward API file, or
   *     null; closed with this
   * @throws IOException when no file-system watch can be made
   */
  public static LiveAnnotations start(Map<String, String> env, String pod, Path socket, LastInputs inputs,
      KubernetesClient api) throws IOException {
    LiveAnnotations live = new LiveAnnotations(env, pod, socket, inputs, api);
    Map<String, String> boot = fromVariable(env);
    try {
      live.executor.submit(() -> live.begin(boot)).get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      live.close();
      throw new IOException("interrupted while reading the annotations", e);
    } catch (ExecutionException | TimeoutException e) {
      live.close();
      throw new IOException("cannot read the pod's annotations: " + e, e);
    }
    live.podinfoThread.start();
    return live;
  }

  private static Map<String, String> fromVariable(Map<String, String> env) {
    Optional<String> v = Env.of(env).string(Annotations.VARIABLE);
    if (v.isEmpty()) {
      return Map.of();
    }
    try {
      return Annotations.parse(v.get(), Annotations.VARIABLE);
    } catch (IllegalArgumentException e) {
      LOG.warn("{}", e.getMessage());
      return Map.of();
    }
  }

  /**
   * Holds {@code configure} re-runs while {@code failsafe} is true (etcd cannot be reached): the
   * service keeps the configuration it runs, as during any etcd outage, and the re-run happens at
   * the first re-scan (at most {@link #RESCAN}) after etcd answers again. The annotations file and
   * the automaton's variable are still updated at once.
   */
  public void holdWhile(BooleanSupplier failsafe) {
    this.failsafe = failsafe;
  }

  /** The annotations now (for tests and status). */
  public Map<String, String> current() {
    try {
      return executor.submit(() -> current).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("the annotations executor does not answer", e);
    }
  }

  private void begin(Map<String, String> boot) {
    current = new TreeMap<>(boot);
    readFile();
    // whatever the automaton was started with (a restarted agent, a stale file in a kept volume)
    writeFile();
    set();
    LOG.info("following the annotations pod={} file={}{} into={}", pod, podinfoFile,
        fileExists ? " (the source)" : "", annotationsFile == null ? "-" : annotationsFile);
    if (!fileExists && api != null) {
      // after start() has returned: an API server that is slow to answer delays only this
      submit(this::watchApi);
    }
  }

  private void watchApi() {
    if (closed) {
      return;
    }
    try {
      podWatch = PodWatch.start(api, namespace, pod, annotations -> submit(() -> fromApi(annotations)));
    } catch (RuntimeException e) {
      LOG.warn("cannot watch pod {}/{}: annotation changes need a restart: {}", namespace, pod, e.getMessage());
    }
  }

  private void submit(Runnable task) {
    try {
      executor.execute(task);
    } catch (RejectedExecutionException e) {
      // closing: nothing more to follow
    }
  }

  private void fromApi(Map<String, String> annotations) {
    if (fileExists) {
      return; // the Downward API file wins
    }
    apply(annotations, "the Kubernetes API");
  }

  /** Re-reads the Downward API file; a change applies, a malformed file is logged once. */
  private void readFile() {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(podinfoFile);
    } catch (NoSuchFileException e) {
      if (fileExists) {
        LOG.info("{} is gone pod={}: the last annotations stay", podinfoFile, pod);
      }
      fileExists = false;
      lastRead = null;
      return;
    } catch (IOException e) {
      String why = podinfoFile + ": cannot read: " + e.getMessage();
      if (!why.equals(lastReadError)) {
        LOG.warn("annotations not changed pod={}: {}", pod, why);
        lastReadError = why;
      }
      return;
    }
    fileExists = true;
    lastReadError = null;
    if (Arrays.equals(bytes, lastRead)) {
      return;
    }
    lastRead = bytes;
    Map<String, String> parsed;
    try {
      parsed = PodInfo.parse(bytes, podinfoFile.toString());
    } catch (PodInfoException e) {
      LOG.warn("annotations not changed pod={}: {} (the last good annotations stay)", pod, e.getMessage());
      return;
    }
    apply(parsed, podinfoFile.toString());
  }

  private void apply(Map<String, String> next, String source) {
    if (next.equals(current)) {
      return;
    }
    Set<String> changed = new TreeSet<>();
    Map<String, String> all = new HashMap<>(current);
    all.putAll(next);
    for (String k : all.keySet()) {
      if (!java.util.Objects.equals(current.get(k), next.get(k))) {
        changed.add(k);
      }
    }
    current = new TreeMap<>(next);
    LOG.info("annotations changed pod={} source={} keys={}", pod, source, changed);
    writeFile();
    set();
    if (changed.stream().anyMatch(LiveAnnotations::isServiceAnnotation)) {
      if (failsafe.getAsBoolean()) {
        held.addAll(changed);
        LOG.info("{} re-run held pod={} changed={}: etcd cannot be reached (failsafe), it runs once etcd answers",
            RERUN_STATE, pod, held);
      } else {
        held.clear();
        rerun(changed);
      }
    }
  }

  /** Re-runs what was held during the failsafe, once etcd answers again. */
  private void releaseHeld() {
    if (held.isEmpty() || failsafe.getAsBoolean()) {
      return;
    }
    Set<String> changed = new TreeSet<>(held);
    held.clear();
    LOG.info("{} re-run released pod={} changed={}: etcd answers again", RERUN_STATE, pod, changed);
    rerun(changed);
  }

  /** Whether a change of {@code key} re-runs {@code configure}: not kontrol's own, not Kubernetes'. */
  static boolean isServiceAnnotation(String key) {
    int slash = key.indexOf('/');
    if (slash < 0) {
      return true;
    }
    String domain = key.substring(0, slash);
    for (String d : FOREIGN_DOMAINS) {
      if (domain.equals(d) || domain.endsWith("." + d)) {
        return false;
      }
    }
    return true;
  }

  private void writeFile() {
    if (annotationsFile == null) {
      return;
    }
    try {
      Annotations.write(annotationsFile, current);
    } catch (IOException e) {
      LOG.warn("cannot write the annotations to {} pod={}: {}", annotationsFile, pod, e.getMessage());
    }
  }

  private void set() {
    try {
      String answer = automaton.send("SET " + Annotations.VARIABLE + " " + Annotations.toJson(current), SET_TIMEOUT);
      if (!answer.equals("OK")) {
        LOG.warn("automaton refused the new annotations pod={}: {}", pod, answer);
      }
    } catch (IOException | TimeoutException e) {
      LOG.info("automaton not told of the new annotations pod={}: {}", pod, e.getMessage());
    }
  }

  private void rerun(Set<String> changed) {
    Optional<String> input = inputs.last(RERUN_STATE);
    if (input.isEmpty()) {
      LOG.info("{} not re-run pod={}: no {} received yet, the leader's first one will use the new annotations",
          RERUN_STATE, pod, RERUN_STATE);
      return;
    }
    String line = "WAIT " + RERUN_STATE + (input.get().isEmpty() ? "" : " " + input.get());
    try {
      String answer = automaton.send(line, RERUN_TIMEOUT);
      // OK: the script ran to its end; how it went is its own (its log, the pod's payload)
      LOG.info("{} re-run with the last input pod={} changed={}: automaton answered {}", RERUN_STATE, pod, changed, answer);
    } catch (IOException | TimeoutException e) {
      LOG.warn("{} not re-run pod={} changed={}: {}", RERUN_STATE, pod, changed, e.getMessage());
    }
  }

  /** The directory watch: hands the executor a re-read on every event, and every {@link #RESCAN}. */
  private void watchDirectory() {
    WatchKey key = null;
    while (!closed) {
      try {
        if (key == null || !key.isValid()) {
          key = Files.isDirectory(podinfoDir) ? podinfoDir.register(watcher, ENTRY_CREATE, ENTRY_MODIFY, ENTRY_DELETE) : null;
        }
        WatchKey k = watcher.poll(key == null ? 1_000 : RESCAN.toMillis(), TimeUnit.MILLISECONDS);
        if (k != null) {
          k.pollEvents();
          k.reset();
        }
        submit(() -> {
          readFile();
          releaseHeld();
        });
      } catch (ClosedWatchServiceException | InterruptedException e) {
        return;
      } catch (IOException e) {
        LOG.debug("cannot watch {}: {}", podinfoDir, e.getMessage());
        key = null;
      }
    }
  }

  /** Stops following; bounded (a re-run in progress is cut short). */
  @Override
  public void close() {
    closed = true;
    try {
      watcher.close();
    } catch (IOException e) {
      LOG.debug("watch service not closed: {}", e.getMessage());
    }
    submit(() -> {
      if (podWatch != null) {
        podWatch.close();
      }
    });
    executor.shutdown();
    try {
      if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
        executor.shutdownNow();
        executor.awaitTermination(2, TimeUnit.SECONDS);
      }
      podinfoThread.join(2_000);
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      if (api != null) {
        api.close();
      }
    }
  }
}
