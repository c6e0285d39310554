package io.kontrol.agent.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * STAND-IN for the EC2 instance metadata service (IMDSv2) on a loopback port, so that no test
 * ever reaches the real metadata address. {@code PUT /latest/api/token} (with the TTL header)
 * returns a token; every {@code GET /latest/meta-data/...} must carry it in {@code
 * X-aws-ec2-metadata-token} or gets 401; unknown paths get 404, as on a real instance.
 *
 * <p>{@link #silent()} makes the other kind: a port that accepts connections and never answers.
 */
public final class ImdsFixture implements AutoCloseable {

  private final HttpServer server;
  private final ServerSocket silent;
  private final List<Socket> held = new CopyOnWriteArrayList<>();
  private final Map<String, String> metadata = new ConcurrentHashMap<>();
  private final String token = UUID.randomUUID().toString();
  private final AtomicInteger tokenRequests = new AtomicInteger();
  private final AtomicInteger rejected = new AtomicInteger();

  private ImdsFixture(HttpServer server, ServerSocket silent) {
    this.server = server;
    this.silent = silent;
  }

  /** An IMDSv2 stand-in answering from {@code metadata} (paths under {@code /latest/meta-data/}). */
  public static ImdsFixture serving(Map<String, String> metadata) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    ImdsFixture f = new ImdsFixture(server, null);
    f.metadata.putAll(metadata);
    server.createContext("/", f::handle);
    server.start();
    return f;
  }

  /** A stand-in that accepts every connection and never sends a byte. */
  public static ImdsFixture silent() throws IOException {
    ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    ImdsFixture f = new ImdsFixture(null, socket);
    Thread acceptor = new Thread(() -> {
      while (!socket.isClosed()) {
        try {
          f.held.add(socket.accept());
        } catch (IOException e) {
          return;
        }
      }
    }, "imds-silent-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
    return f;
  }

  public URI endpoint() {
    int port = server != null ? server.getAddress().getPort() : silent.getLocalPort();
    return URI.create("http://127.0.0.1:" + port);
  }

  public int tokenRequests() {
    return tokenRequests.get();
  }

  /** GETs refused for a missing or wrong token. */
  public int rejected() {
    return rejected.get();
  }

  private void handle(HttpExchange x) throws IOException {
    try (x) {
      String path = x.getRequestURI().getPath();
      if (path.equals("/latest/api/token")) {
        String ttl = x.getRequestHeaders().getFirst("X-aws-ec2-metadata-token-ttl-seconds");
        if (!x.getRequestMethod().equals("PUT") || ttl == null) {
          reply(x, 400, "");
          return;
        }
        tokenRequests.incrementAndGet();
        x.getResponseHeaders().add("X-aws-ec2-metadata-token-ttl-seconds", ttl);
        reply(x, 200, token);
        return;
      }
      if (!token.equals(x.getRequestHeaders().getFirst("X-aws-ec2-metadata-token"))) {
        rejected.incrementAndGet();
        reply(x, 401, "");
        return;
      }
      String prefix = "/latest/meta-data/";
      String value = path.startsWith(prefix) ? metadata.get(path.substring(prefix.length())) : null;
      if (value == null) {
        reply(x, 404, "");
      } else {
        reply(x, 200, value);
      }
    }
  }

  private static void reply(HttpExchange x, int code, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    x.sendResponseHeaders(code, b.length == 0 ? -1 : b.length);
    if (b.length > 0) {
      x.getResponseBody().write(b);
    }
  }

  @Override
  public void close() throws IOException {
    if (server != null) {
      server.stop(0);
    }
    if (silent != null) {
      silent.close();
      for (Socket s : held) {
        s.close();
      }
    }
  }
}
