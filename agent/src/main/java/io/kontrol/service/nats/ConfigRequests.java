package io.kontrol.service.nats;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.etcd.jetcd.Client;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.groupconfig.GroupConfig;
import io.kontrol.agent.groupconfig.GroupConfigException;
import io.kontrol.agent.groupconfig.GroupConfigStore;
import io.kontrol.agent.lease.LeaseKeeper;
import io.kontrol.agent.watch.GroupWatch;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.Dispatcher;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NATS request API of a NATS group's leader, as the seed's {@code leaf-controller} served it:
 * a jnats client of the pod's own broker answers {@code _SAT.<group>.config.put} (the body: a
 * {@link GroupConfig} document, validated, then stored; the reply {@code {"ok": true, "revision":
 * N}} or {@code {"ok": false, "error": "..."}}) and {@code _SAT.<group>.config.get} (the reply
 * {@code {"ok": true, "revision": N, "config": {...}}}), where {@code <group>} is the group's app
 * and, once a configuration renamed the cluster, its current name too.
 *
 * <p>Only the leader subscribes; a deposed one unsubscribes, the next leader subscribes. With a
 * peer token, a request must carry it as the header {@code Authorization: Bearer <token>}, or is
 * refused and logged. Everything (connection events, leadership, requests, the configuration
 * watch that follows renames) runs on one thread, {@code kontrol-nats-api}.
 */
final class ConfigRequests implements ConfigApi.Handle {
  private static final Logger LOG = LoggerFactory.getLogger(ConfigRequests.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration IO = Duration.ofSeconds(5);
  static final String AUTHORIZATION = "Authorization";
  private static final String BEARER = "Bearer ";

  private final Group group;
  private final String pod;
  private final Optional<byte[]> token;
  private final ScheduledExecutorService exec;
  private final Options options;
  private final String url;

  // owned by exec
  private int connectFailures;
  private Connection connection;
  private Dispatcher dispatcher;
  private GroupConfigStore store;
  private Client etcd;
  private GroupWatch watch;
  private boolean leading;
  private final Set<String> served = new LinkedHashSet<>();
  private volatile boolean closed;
  /** Set once a connection was made: before that, each failed attempt would report a disconnect. */
  private volatile boolean connected;

  private ConfigRequests(Group group, String pod, String url, Optional<String> token) {
    this.group = group;
    this.pod = pod;
    this.url = url;
    this.token = token.map(t -> (BEARER + t).getBytes(StandardCharsets.UTF_8));
    this.exec =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "kontrol-nats-api");
              t.setDaemon(true);
              return t;
            });
    this.options =
        new Options.Builder()
            .server(url)
            .connectionName("kontrol-config-api-" + pod)
            .maxReconnects(-1)
            .reconnectWait(Duration.ofMillis(500))
            .connectionTimeout(Duration.ofSeconds(2))
            .connectionListener(this::connectionEvent)
            .errorListener(new io.nats.client.ErrorListener() {})
            .build();
  }

  static ConfigRequests start(Group group, String pod, String url, Optional<String> token) {
    ConfigRequests api = new ConfigRequests(group, pod, url, token);
    LOG.info("config API on pod={} group={} broker={} subjects=_SAT.{}.config.put|get token={}", pod, group, url,
        group.app(), token.isPresent() ? "required" : "none");
    api.run(api::connect);
    return api;
  }

  /** Connects to the broker; it starts with the group's first configure, so until then, again every second. */
  private void connect() {
    if (closed) {
      return;
    }
    try {
      Connection c = Nats.connect(options);
      connection = c;
      connected = true;
      dispatcher = c.createDispatcher(m -> run(() -> handle(m)));
      LOG.info("config API connected pod={} group={} broker={}", pod, group, c.getConnectedUrl());
      sync(null);
    } catch (java.io.IOException e) {
      if (connectFailures++ == 0) {
        LOG.info("config API waits for the broker pod={} group={} broker={}: {}", pod, group, url, e.getMessage());
      }
      try {
        exec.schedule(this::connect, 1, TimeUnit.SECONDS);
      } catch (RejectedExecutionException closing) {
        // closed meanwhile
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void connectionEvent(Connection c, ConnectionListener.Events event) {
    if (connected && (event == ConnectionListener.Events.DISCONNECTED || event == ConnectionListener.Events.RECONNECTED)) {
      LOG.info("config API {} pod={} group={}", event.name().toLowerCase(java.util.Locale.ROOT), pod, group);
    }
  }

  @Override
  public void leading(Group g, boolean now) {
    if (g.equals(group)) {
      run(() -> {
        leading = now;
        if (now) {
          startWatch();
        } else if (watch != null) {
          watch.close();
          watch = null;
        }
        sync(null);
      });
    }
  }

  @Override
  public void attach(Client client) {
    run(() -> {
      etcd = client;
      store = new GroupConfigStore(client.getKVClient(), IO);
      startWatch();
      sync(null);
    });
  }

  private void startWatch() {
    if (leading && etcd != null && watch == null) {
      // follows renames made around this API (kontrol config put)
      watch = new GroupWatch(etcd, group, group.configKey(), exec, () -> run(() -> sync(null))).start();
    }
  }

  private void run(Runnable r) {
    try {
      exec.execute(
          () -> {
            try {
              r.run();
            } catch (RuntimeException e) {
              LOG.warn("config API error pod={} group={} error={}", pod, group, LeaseKeeper.brief(e));
            }
          });
    } catch (RejectedExecutionException closedAlready) {
      // closing
    }
  }

  /**
   * Serves the subjects this leader should serve now (none when not leading): the app's and the
   * stored name's. {@code known} is the configuration just stored, else it is read.
   */
  private void sync(GroupConfig known) {
    if (closed || dispatcher == null) {
      return;
    }
    Set<String> want = new TreeSet<>();
    if (leading && store != null) {
      want.add(group.app());
      Optional<String> name = Optional.empty();
      if (known != null) {
        name = known.name();
      } else {
        try {
          Optional<GroupConfigStore.Stored> stored = store.get(group);
          if (stored.isPresent()) {
            name = stored.get().config().name();
          }
        } catch (GroupConfigStore.Unreachable | GroupConfigException e) {
          // keep what is served; the next change or request tries again
          want.addAll(served);
          LOG.warn("config API cannot read the configuration pod={} group={}: {}", pod, group, e.getMessage());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
      name.ifPresent(want::add);
    }
    if (want.equals(served)) {
      return;
    }
    for (String n : served) {
      if (!want.contains(n)) {
        dispatcher.unsubscribe(subject(n, "put"));
        dispatcher.unsubscribe(subject(n, "get"));
      }
    }
    for (String n : want) {
      if (!served.contains(n)) {
        dispatcher.subscribe(subject(n, "put"));
        dispatcher.subscribe(subject(n, "get"));
      }
    }
    served.clear();
    served.addAll(want);
    LOG.info("config API serving pod={} group={} subjects={}", pod, group,
        want.isEmpty() ? "none (not leading)" : want.stream().map(n -> subject(n, "put|get")).toList());
  }

  static String subject(String name, String verb) {
    return "_SAT." + name + ".config." + verb;
  }

  private void handle(Message m) {
    String subject = m.getSubject();
    if (m.getReplyTo() == null) {
      LOG.info("config request ignored pod={} group={} subject={}: no reply subject", pod, group, subject);
      return;
    }
    if (token.isPresent()) {
      String given = m.hasHeaders() ? m.getHeaders().getFirst(AUTHORIZATION) : null;
      if (given == null || !MessageDigest.isEqual(token.get(), given.getBytes(StandardCharsets.UTF_8))) {
        String why = given == null ? "a token is required (header Authorization: Bearer <token>)" : "wrong token";
        LOG.warn("config request refused pod={} group={} subject={}: {}", pod, group, subject, given == null ? "no token" : "wrong token");
        reply(m, error(why));
        return;
      }
    }
    if (!leading || store == null) {
      reply(m, error("pod " + pod + " no longer leads " + group + ": send the request again"));
      return;
    }
    if (subject.endsWith(".config.get")) {
      reply(m, get());
      return;
    }
    String body = new String(m.getData(), StandardCharsets.UTF_8);
    GroupConfig config;
    try {
      config = GroupConfig.parse(body);
    } catch (GroupConfigException e) {
      LOG.info("config request refused pod={} group={} subject={}: {}", pod, group, subject, e.getMessage());
      reply(m, error(e.getMessage() + " (nothing stored)"));
      return;
    }
    try {
      long revision = store.put(group, config);
      LOG.info("config stored pod={} group={} subject={} revision={} config={}", pod, group, subject, revision, config.json());
      ObjectNode ok = JSON.createObjectNode().put("ok", true).put("revision", revision);
      reply(m, ok);
      sync(config);
    } catch (GroupConfigStore.Unreachable e) {
      LOG.warn("config request failed pod={} group={} subject={}: {}", pod, group, subject, e.getMessage());
      reply(m, error(e.getMessage() + " (nothing stored)"));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private ObjectNode get() {
    try {
      Optional<GroupConfigStore.Stored> stored = store.get(group);
      ObjectNode ok = JSON.createObjectNode().put("ok", true).put("revision", stored.map(GroupConfigStore.Stored::revision).orElse(0L));
      ok.set("config", stored.isPresent() ? stored.get().config().tree() : GroupConfig.EMPTY.tree());
      return ok;
    } catch (GroupConfigStore.Unreachable | GroupConfigException e) {
      return error(e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return error("interrupted");
    }
  }

  private static ObjectNode error(String message) {
    return JSON.createObjectNode().put("ok", false).put("error", message);
  }

  private void reply(Message m, ObjectNode body) {
    connection.publish(m.getReplyTo(), body.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** Unsubscribes and disconnects; bounded (a few seconds at most). */
  @Override
  public void close() {
    closed = true;
    exec.execute(
        () -> {
          if (watch != null) {
            watch.close();
          }
        });
    exec.shutdown();
    try {
      if (!exec.awaitTermination(5, TimeUnit.SECONDS)) {
        exec.shutdownNow();
        exec.awaitTermination(2, TimeUnit.SECONDS);
      }
      Connection c = connection;
      if (c != null) {
        c.close();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
