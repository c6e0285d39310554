package io.kontrol.agent.boot;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kontrol.agent.config.Env;
import io.kontrol.agent.identity.Annotations;
import io.kontrol.agent.identity.Identity;
import io.kontrol.agent.identity.IdentityException;
import io.kontrol.agent.identity.IdentityResolver;
import io.kontrol.agent.identity.KubernetesIdentity;
import io.kontrol.agent.identity.PodInfo;
import io.kontrol.agent.render.AtomicFile;
import io.kontrol.agent.render.RenderException;
import io.kontrol.agent.supervisor.Supervisord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * The image entrypoint's preparation: resolves the pod's identity (the Downward API annotations
 * file, when it exists, wins over {@code KONTROL_ANNOTATIONS}, see {@link PodInfo}), writes the
 * annotations file, renders the metrics agent's configuration and supervisord's, and then either
 *
 * <ul>
 *   <li>{@link #prepare(Path)} ({@code kontrol boot --env-file FILE}, what the images run): writes
 *       the environment it resolved to {@code FILE} as shell {@code export}s and exits, so that the
 *       image's entrypoint script can {@code exec} supervisord as PID 1 with it: no JVM stays
 *       resident for the pod's life; or
 *   <li>{@link #run()} ({@code kontrol boot}): starts supervisord as its child, forwards
 *       SIGTERM/SIGINT to it (the automaton then reaches its terminal state and the agent
 *       deregisters) and exits with supervisord's code.
 * </ul>
 *
 * <p>The pod's annotations are followed while it runs by the agent ({@code kontrol run}), not here.
 *
 * <table>
 *   <caption>variables</caption>
 *   <tr><td>{@code KONTROL_SUPERVISORD_CONF}</td><td>supervisord's main configuration, used as
 *       is; unset: one is written to a temporary directory, including the programs below</td></tr>
 *   <tr><td>{@code KONTROL_SUPERVISOR_DIR}</td><td>the programs' {@code *.conf} (default
 *       {@code /home/kontrol/supervisor})</td></tr>
 *   <tr><td>{@code KONTROL_TELEGRAF_CONF}</td><td>where the metrics configuration goes (default
 *       {@code /etc/telegraf/telegraf.conf})</td></tr>
 *   <tr><td>{@code KONTROL_ANNOTATIONS_FILE}</td><td>the live annotations (see {@link Annotations})</td></tr>
 * </table>
 */
public final class Boot {

  private static final Logger LOG = LoggerFactory.getLogger(Boot.class);

  static final String DEFAULT_SUPERVISOR_DIR = "/home/kontrol/supervisor";
  static final String DEFAULT_TELEGRAF_CONF = "/etc/telegraf/telegraf.conf";

  /** Names the supervisord configuration in the environment boot hands on. */
  static final String SUPERVISORD_CONF = "KONTROL_SUPERVISORD_CONF";

  private final Map<String, String> env;

  /** The directory of a generated supervisord configuration, removed at exit of {@link #run()}. */
  private Path generated;

  public Boot(Map<String, String> env) {
    this.env = Map.copyOf(env);
  }

  /** What the preparation gives supervisord: the variables it adds or changes, and the configuration. */
  private record Prepared(Identity identity, Path conf) {

    /** What supervisord's environment gets on top of boot's own. */
    Map<String, String> exports() {
      Map<String, String> out = new TreeMap<>(identity.toEnv());
      out.put(SUPERVISORD_CONF, conf.toString());
      return out;
    }
  }

  /**
   * Resolves, writes the configuration files; empty (after one log line) when the identity cannot
   * be resolved or supervisord's configuration not written.
   */
  private Optional<Prepared> prepareFiles() throws InterruptedException {
    Map<String, String> in = PodInfo.environment(env);
    KubernetesClient client = IdentityResolver.needsKubernetes(in) ? KubernetesIdentity.inClusterClient() : null;
    Identity identity;
    try {
      identity = IdentityResolver.forEnv(in, client).resolve();
    } catch (IdentityException e) {
      LOG.error("boot: cannot resolve the pod's identity: {}", e.getMessage());
      return Optional.empty();
    } finally {
      if (client != null) {
        client.close();
      }
    }
    annotationsFile(identity);
    telegraf(identity);
    Path conf;
    try {
      conf = supervisordConf();
    } catch (IOException e) {
      LOG.error("boot: cannot write supervisord's configuration: {}", e.getMessage());
      return Optional.empty();
    }
    return Optional.of(new Prepared(identity, conf));
  }

  /**
   * Prepares and writes the resolved environment to {@code envFile} (atomically) as lines {@code
   * export NAME='value'} that {@code sh} sources back to the exact values; a generated supervisord
   * configuration is kept, since supervisord runs after this process has exited.
   *
   * @return 0; 1 when the identity cannot be resolved or a file not written
   */
  public int prepare(Path envFile) throws InterruptedException {
    long t0 = System.nanoTime();
    Optional<Prepared> p = prepareFiles();
    if (p.isEmpty()) {
      return 1;
    }
    try {
      Files.createDirectories(envFile.toAbsolutePath().getParent());
      AtomicFile.write(envFile, "# written by kontrol boot: the pod's identity, for sh to source\n"
          + p.get().identity().toExports()
          + "export " + SUPERVISORD_CONF + "=" + Identity.shellQuote(p.get().conf().toString()) + "\n");
    } catch (IOException e) {
      LOG.error("boot: cannot write {}: {}", envFile, e.getMessage());
      return 1;
    }
    LOG.info("boot: prepared in {} ms, environment in {}, supervisord configuration {}",
        (System.nanoTime() - t0) / 1_000_000, envFile, p.get().conf());
    return 0;
  }

  /**
   * Boots and runs until supervisord exits.
   *
   * @return supervisord's exit code; 1 when the identity cannot be resolved or supervisord not
   *     started
   */
  public int run() throws InterruptedException {
    long t0 = System.nanoTime();
    try {
      Optional<Prepared> p = prepareFiles();
      if (p.isEmpty()) {
        return 1;
      }
      Map<String, String> childEnv = new HashMap<>(env);
      childEnv.putAll(p.get().exports());
      Supervisord supervisord;
      try {
        supervisord = Supervisord.start(p.get().conf(), childEnv);
      } catch (IOException e) {
        LOG.error("boot: {}", e.getMessage());
        return 1;
      }
      try (supervisord) {
        forwardSignals(supervisord);
        LOG.info("boot: ready in {} ms", (System.nanoTime() - t0) / 1_000_000);
        int code = supervisord.waitFor();
        LOG.info("boot: supervisord exited with {}", code);
        return code;
      }
    } finally {
      removeGenerated();
    }
  }

  /** The annotations file, written once with the boot-time annotations; the agent keeps it current. */
  private void annotationsFile(Identity identity) {
    Optional<Path> file = Env.of(env).path(Annotations.FILE_VARIABLE);
    if (file.isEmpty()) {
      return;
    }
    try {
      Annotations.write(file.get(), identity.map(Identity.ANNOTATIONS));
    } catch (IOException e) {
      LOG.warn("boot: annotations not written to {}: {}", file.get(), e.getMessage());
    }
  }

  private void removeGenerated() {
    if (generated == null) {
      return;
    }
    try (var files = Files.walk(generated)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      LOG.debug("boot: {} not removed: {}", generated, e.getMessage());
    }
  }

  /** Writes the telegraf configuration, or says in one line why not; never fails the boot. */
  private void telegraf(Identity identity) {
    Path target = Env.of(env).path("KONTROL_TELEGRAF_CONF").orElse(Path.of(DEFAULT_TELEGRAF_CONF));
    try {
      Optional<String> text = TelegrafConfig.render(identity);
      if (text.isEmpty()) {
        LOG.info("boot: no {} annotation: metrics configuration skipped", TelegrafConfig.ANNOTATION);
        return;
      }
      AtomicFile.write(target, text.get());
      LOG.info("boot: metrics configuration written to {}", target);
    } catch (RenderException | IOException e) {
      LOG.warn("boot: metrics configuration not written to {}: {}", target, e.getMessage());
    }
  }

  private Path supervisordConf() throws IOException {
    Env vars = Env.of(env);
    Optional<Path> given = vars.path(SUPERVISORD_CONF);
    if (given.isPresent()) {
      return given.get();
    }
    Path programs = vars.path("KONTROL_SUPERVISOR_DIR").orElse(Path.of(DEFAULT_SUPERVISOR_DIR));
    generated = Files.createTempDirectory("kontrol-boot-");
    return Supervisord.writeConfig(generated, programs);
  }

  /**
   * SIGTERM and SIGINT go to supervisord, which stops its programs in order and exits; this
   * process then exits with supervisord's code (the JVM's own shutdown would not wait for it).
   */
  private static void forwardSignals(Supervisord supervisord) {
    for (String name : new String[] {"TERM", "INT"}) {
      Signal.handle(new Signal(name), s -> {
        LOG.info("boot: SIG{} received, stopping supervisord", name);
        supervisord.terminate();
      });
    }
  }
}
