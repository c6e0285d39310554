package io.kontrol.service.haproxy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A STAND-IN for Route53 (its REST-XML API, 2013-04-01), on 127.0.0.1: one public hosted zone
 * {@code example.com.} with id {@code ZTEST}; {@code ChangeResourceRecordSets} answers what the
 * test queued ({@link #reply}), else success. Every request is kept, with its body and
 * Authorization header.
 */
final class Route53StandIn implements AutoCloseable {

  static final String NS = "https://route53.amazonaws.com/doc/2013-04-01/";

  record Request(String method, String path, String query, String authorization, String body) {}

  private record Reply(int status, String body) {}

  private final HttpServer server;
  private final ExecutorService executor =
      Executors.newSingleThreadExecutor(r -> new Thread(r, "route53-stand-in"));
  final List<Request> requests = new CopyOnWriteArrayList<>();
  private final Queue<Reply> replies = new ConcurrentLinkedQueue<>();

  Route53StandIn() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", this::handle);
    server.setExecutor(executor);
    server.start();
  }

  String endpoint() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** The next change request gets an error: e.g. 400 PriorRequestNotComplete, 403 AccessDenied. */
  void reply(int status, String code, String message) {
    replies.add(new Reply(status,
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"" + NS + "\"><Error><Type>Sender</Type><Code>" + code
            + "</Code><Message>" + message + "</Message></Error><RequestId>r-" + System.nanoTime() + "</RequestId></ErrorResponse>"));
  }

  List<Request> changes() {
    return requests.stream().filter(r -> r.method().equals("POST") && r.path().endsWith("/rrset/")).toList();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    String path = exchange.getRequestURI().getPath();
    Request request =
        new Request(exchange.getRequestMethod(), path, exchange.getRequestURI().getQuery(),
            exchange.getRequestHeaders().getFirst("Authorization"), body);
    requests.add(request);
    Reply reply;
    if (path.equals("/2013-04-01/hostedzonesbyname")) {
      reply = new Reply(200,
          "<?xml version=\"1.0\"?>\n<ListHostedZonesByNameResponse xmlns=\"" + NS + "\"><HostedZones><HostedZone>"
              + "<Id>/hostedzone/ZTEST</Id><Name>example.com.</Name><CallerReference>r1</CallerReference>"
              + "<Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>3</ResourceRecordSetCount>"
              + "</HostedZone></HostedZones><DNSName>example.com.</DNSName><IsTruncated>false</IsTruncated>"
              + "<MaxItems>10</MaxItems></ListHostedZonesByNameResponse>");
    } else if (path.equals("/2013-04-01/hostedzone/ZTEST/rrset/") && request.method().equals("POST")) {
      Reply queued = replies.poll();
      reply = queued != null ? queued : new Reply(200,
          "<?xml version=\"1.0\"?>\n<ChangeResourceRecordSetsResponse xmlns=\"" + NS + "\"><ChangeInfo>"
              + "<Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status><SubmittedAt>2017-03-10T01:36:41.958Z</SubmittedAt>"
              + "</ChangeInfo></ChangeResourceRecordSetsResponse>");
    } else if (path.startsWith("/2013-04-01/hostedzone/") && path.endsWith("/rrset/")) {
      reply = new Reply(404,
          "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"" + NS + "\"><Error><Type>Sender</Type><Code>NoSuchHostedZone</Code>"
              + "<Message>No hosted zone found with ID: " + path.split("/")[3] + "</Message></Error><RequestId>r2</RequestId></ErrorResponse>");
    } else {
      reply = new Reply(400, "<ErrorResponse xmlns=\"" + NS + "\"><Error><Code>InvalidInput</Code><Message>unexpected " + path + "</Message></Error></ErrorResponse>");
    }
    byte[] bytes = reply.body().getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "text/xml");
    exchange.getResponseHeaders().add("x-amzn-RequestId", "r-" + requests.size());
    exchange.sendResponseHeaders(reply.status(), bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
