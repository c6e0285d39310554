package io.kontrol.agent.boot;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kontrol.agent.identity.Annotations;
import io.kontrol.agent.identity.Identity;
import io.kontrol.agent.identity.IdentityException;
import io.kontrol.agent.identity.IdentityResolver;
import io.kontrol.agent.identity.KubernetesIdentity;
import io.kontrol.agent.identity.PodWatch;
import io.kontrol.agent.render.AtomicFile;
import io.kontrol.agent.render.RenderException;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.supervisor.Supervisord;
import io.kontrol.automaton.client.AutomatonClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * The image entrypoint: resolves the pod's identity, exports it to everything started below,
 * renders the metrics agent's configuration, starts supervisord and forwards SIGTERM/SIGINT to
 * it, so that the automaton reaches its terminal state and the agent deregisters; exits with
 * supervisord's code. In a pod it also watches the pod, so annotation changes reach the
 * annotations file and the automaton's environment without a restart.
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

  private final Map<String, String> env;

  /** The directory of a generated supervisord configuration, removed at exit. */
  private Path generated;

  public Boot(Map<String, String> env) {
    this.env = Map.copyOf(env);
  }

  /**
   * Boots and runs until supervisord exits.
   *
   * @return supervisord's exit code; 1 when the identity cannot be resolved or supervisord not
   *     started
   */
  public int run() throws InterruptedException {
    long t0 = System.nanoTime();
    KubernetesClient client = IdentityResolver.needsKubernetes(env) ? KubernetesIdentity.inClusterClient() : null;
    try {
      Identity identity;
      try {
        identity = IdentityResolver.forEnv(env, client).resolve();
      } catch (IdentityException e) {
        LOG.error("boot: cannot resolve the pod's identity: {}", e.getMessage());
        return 1;
      }
      Map<String, String> childEnv = new HashMap<>(env);
      childEnv.putAll(identity.toEnv());

      telegraf(identity);

      Path conf;
      try {
        conf = supervisordConf();
      } catch (IOException e) {
        LOG.error("boot: cannot write supervisord's configuration: {}", e.getMessage());
        return 1;
      }
      Supervisord supervisord;
      try {
        supervisord = Supervisord.start(conf, childEnv);
      } catch (IOException e) {
        LOG.error("boot: {}", e.getMessage());
        return 1;
      }
      try (supervisord) {
        forwardSignals(supervisord);
        LOG.info("boot: ready in {} ms", (System.nanoTime() - t0) / 1_000_000);
        try (PodWatch watch = client == null ? null : watch(client, identity)) {
          int code = supervisord.waitFor();
          LOG.info("boot: supervisord exited with {}", code);
          return code;
        }
      }
    } finally {
      if (client != null) {
        client.close();
      }
      removeGenerated();
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
    Path target = Path.of(env.getOrDefault("KONTROL_TELEGRAF_CONF", DEFAULT_TELEGRAF_CONF));
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
    String given = env.get("KONTROL_SUPERVISORD_CONF");
    if (given != null && !given.isBlank()) {
      return Path.of(given);
    }
    Path programs = Path.of(env.getOrDefault("KONTROL_SUPERVISOR_DIR", DEFAULT_SUPERVISOR_DIR));
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

  /** Watches the own pod: live annotations to the file and to the automaton's environment. */
  private PodWatch watch(KubernetesClient client, Identity identity) {
    String file = env.get(Annotations.FILE_VARIABLE);
    Path socket = PeerConfig.fromEnv(env).socket();
    try {
      return PodWatch.start(client, KubernetesIdentity.namespace(env), identity.get(Identity.ID),
          file == null || file.isBlank() ? null : Path.of(file), identity.map(Identity.ANNOTATIONS),
          annotations -> {
            try {
              new AutomatonClient(socket).send("SET " + Identity.ANNOTATIONS + " " + Annotations.toJson(annotations),
                  Duration.ofSeconds(2));
            } catch (IOException | TimeoutException e) {
              LOG.info("boot: automaton not told of the new annotations: {}", e.getMessage());
            }
          });
    } catch (RuntimeException e) {
      LOG.warn("boot: cannot watch the pod, annotation changes need a restart: {}", e.getMessage());
      return null;
    }
  }
}
