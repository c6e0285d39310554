package io.kontrol.agent.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.kontrol.agent.health.Check;
import io.kontrol.agent.health.HealthChecks;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's HTTP endpoint on {@code KONTROL_HTTP_PORT} (default 8001), on the JDK's own server
 * with one handler thread, {@code kontrol-http}:
 *
 * <ul>
 *   <li>{@code GET /metrics}: Prometheus text format (0.0.4);
 *   <li>{@code GET /livez} (and {@code /healthz}): 200 when the agent's loops run, whatever etcd
 *       does;
 *   <li>{@code GET /readyz}: 200 when registered and, for a leader, leading on a live lease;
 * </ul>
 *
 * <p>Health endpoints answer {@code ok} or, on failure or with {@code ?verbose}, one line per check
 * ({@code [+]etcd ok}, {@code [-]registered failed: reason}), as the Kubernetes API server does;
 * {@code ?exclude=NAME} (repeatable) leaves a check out.
 */
public final class HttpEndpoint implements Closeable {

  private static final Logger LOG = LoggerFactory.getLogger(HttpEndpoint.class);

  /** The Prometheus text format's content type. */
  public static final String METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final HttpServer server;
  private final ExecutorService executor;
  private final AtomicBoolean closed = new AtomicBoolean();

  private HttpEndpoint(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Binds {@code port} on every interface (0 = any free port) and serves.
   *
   * @throws BindException with a message naming the port when it cannot be bound
   */
  public static HttpEndpoint start(int port, Supplier<String> metrics, HealthChecks health) throws IOException {
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(port), 16);
    } catch (BindException e) {
      BindException b = new BindException("port " + port + " is already in use (" + e.getMessage() + ")");
      b.initCause(e);
      throw b;
    }
    ExecutorService executor =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "kontrol-http");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(executor);
    server.createContext("/metrics", ex -> serve(ex, () -> new Reply(200, METRICS_TYPE, metrics.get())));
    server.createContext("/livez", ex -> serve(ex, () -> health("livez", ex, health.liveness())));
    server.createContext("/healthz", ex -> serve(ex, () -> health("livez", ex, health.liveness())));
    server.createContext("/readyz", ex -> serve(ex, () -> health("readyz", ex, health.readiness())));
    server.createContext("/", ex -> serve(ex, () -> new Reply(404, "text/plain; charset=utf-8", "not found: try /metrics, /livez, /readyz\n")));
    server.start();
    LOG.info("http endpoint serving on port {} (/metrics, /livez, /readyz)", server.getAddress().getPort());
    return new HttpEndpoint(server, executor);
  }

  /** The bound port. */
  public int port() {
    return server.getAddress().getPort();
  }

  private record Reply(int code, String type, String body) {}

  private interface Handler {
    Reply handle() throws Exception;
  }

  private static void serve(HttpExchange ex, Handler h) throws IOException {
    try (ex) {
      Reply r;
      if (!"GET".equals(ex.getRequestMethod()) && !"HEAD".equals(ex.getRequestMethod())) {
        r = new Reply(405, "text/plain; charset=utf-8", "only GET\n");
        ex.getResponseHeaders().set("Allow", "GET, HEAD");
      } else {
        try {
          r = h.handle();
        } catch (Exception e) {
          LOG.warn("http {} failed: {}", ex.getRequestURI().getPath(), e.toString());
          r = new Reply(500, "text/plain; charset=utf-8", "internal error: " + e.getMessage() + "\n");
        }
      }
      byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", r.type());
      ex.getResponseHeaders().set("Cache-Control", "no-store");
      boolean head = "HEAD".equals(ex.getRequestMethod());
      ex.sendResponseHeaders(r.code(), head ? -1 : body.length == 0 ? -1 : body.length);
      if (!head && body.length > 0) {
        try (OutputStream out = ex.getResponseBody()) {
          out.write(body);
        }
      }
    }
  }

  private static Reply health(String what, HttpExchange ex, List<Check> all) {
    String query = ex.getRequestURI().getRawQuery();
    List<String> params = query == null ? List.of() : Arrays.asList(query.split("&"));
    boolean verbose = params.stream().anyMatch(p -> p.equals("verbose") || p.startsWith("verbose="));
    Set<String> excluded =
        params.stream()
            .filter(p -> p.startsWith("exclude="))
            .map(p -> java.net.URLDecoder.decode(p.substring(8), StandardCharsets.UTF_8))
            .collect(Collectors.toSet());
    List<Check> checks = all.stream().filter(c -> !excluded.contains(c.name())).toList();
    boolean ok = checks.stream().allMatch(Check::ok);
    StringBuilder sb = new StringBuilder();
    if (verbose || !ok) {
      for (Check c : checks) {
        sb.append(c.ok() ? "[+]" : "[-]").append(c.name()).append(c.ok() ? " ok" : " failed: " + c.reason()).append('\n');
      }
      for (String e : excluded) {
        sb.append("[+]").append(e).append(" excluded: ok\n");
      }
      sb.append(what).append(ok ? " check passed\n" : " check failed\n");
    } else {
      sb.append("ok\n");
    }
    return new Reply(ok ? 200 : 503, "text/plain; charset=utf-8", sb.toString());
  }

  /** Stops serving: exchanges in flight get one second. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      server.stop(1);
    } finally {
      executor.shutdownNow();
      try {
        executor.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      LOG.info("http endpoint stopped");
    }
  }
}
