package io.kontrol.service.haproxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real HAProxy (Debian's 2.6) in master-worker mode on loopback, laid out as the image lays it
 * out: the operator file in {@code dir/haproxy.cfg}, then the "image's own" file with a {@code
 * /healthz} listener, the master CLI on {@code dir/master.sock}, its output in {@code
 * dir/haproxy.log}. Plus two downstream HTTP servers (a second, plain HAProxy) answering {@code
 * a} and {@code b}. {@link #start()} is the {@link Configurator.Starter}.
 */
final class HaproxyProcess implements AutoCloseable {

  /** The seed README's HTTP template, on loopback ports given through env. */
  static final String TEMPLATE =
      String.join("\n",
          "defaults",
          "  mode http",
          "  timeout connect 2s",
          "  timeout client 10s",
          "  timeout server 10s",
          "",
          "frontend proxy",
          "  bind                127.0.0.1:{{ env.PROXY_PORT }}",
          "  default_backend     http",
          "",
          "backend http",
          "  balance             roundrobin",
          "  {%- for key in hosts %}",
          "  {%- for ip in hosts[key] %}",
          "  server {{key}}-{{loop.index}} {{ip}}:{{ env.PORT_A if loop.index == 1 else env.PORT_B }}",
          "  {%- endfor %}",
          "  {%- endfor %}");

  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  final Path dir;
  final Path live;
  final Path base;
  final Path log;
  final Path socket;
  final int proxyPort = freePort();
  final int healthPort = freePort();
  final int webA = freePort();
  final int webB = freePort();
  private final List<Process> masters = new ArrayList<>();
  private Process downstream;

  HaproxyProcess(Path dir) throws IOException {
    this.dir = dir;
    this.live = dir.resolve("haproxy.cfg");
    this.base = dir.resolve("kontrol.cfg");
    this.log = dir.resolve("haproxy.log");
    this.socket = dir.resolve("master.sock");
    Files.writeString(
        base,
        String.join("\n",
            "global",
            "  hard-stop-after 10s",
            "defaults kontrol",
            "  mode http",
            "  timeout connect 2s",
            "  timeout client 10s",
            "  timeout server 10s",
            "frontend kontrol",
            "  bind 127.0.0.1:" + healthPort,
            "  monitor-uri /healthz",
            ""));
    Path down = dir.resolve("downstream.cfg");
    Files.writeString(
        down,
        String.join("\n",
            "defaults",
            "  mode http",
            "  timeout connect 2s",
            "  timeout client 10s",
            "  timeout server 10s",
            "frontend a",
            "  bind 127.0.0.1:" + webA,
            "  http-request return status 200 content-type text/plain string a",
            "frontend b",
            "  bind 127.0.0.2:" + webB,
            "  http-request return status 200 content-type text/plain string b",
            ""));
    downstream =
        new ProcessBuilder("haproxy", "-db", "-f", down.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("downstream.log").toFile())
            .start();
  }

  Configurator configurator(List<String> logs) {
    return new Configurator(
        new Configurator.Settings(live, base, log, "haproxy", Duration.ofSeconds(10), Duration.ofSeconds(15)),
        new MasterCli(socket),
        this::start,
        logs::add);
  }

  /** Starts the master, as supervisord does (its output appended to the log). */
  void start() throws IOException {
    Process p =
        new ProcessBuilder("haproxy", "-W", "-db", "-S", socket + ",mode,600", "-f", live.toString(), "-f", base.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    masters.add(p);
  }

  /** The body of GET / through the proxy, or the failure. */
  String get(int port) {
    return get(port, "/");
  }

  String get(int port, String path) {
    try {
      HttpResponse<String> r =
          HTTP.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(3)).build(),
              HttpResponse.BodyHandlers.ofString());
      return r.statusCode() + " " + r.body().strip();
    } catch (IOException e) {
      return "failed: " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  ProcList proc() {
    try {
      return new MasterCli(socket).showProc(Duration.ofSeconds(3));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    for (Process p : masters) {
      p.destroy(); // SIGTERM: the master stops its workers
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
    if (downstream != null) {
      downstream.destroy();
      if (!downstream.waitFor(10, TimeUnit.SECONDS)) {
        downstream.destroyForcibly();
      }
    }
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
