package io.kontrol.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.kontrol.proxy.pixy.KafkaPixyGrpc;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** A test's HTTP and gRPC clients of one proxy. */
final class ProxyClient implements Closeable {
  static final ObjectMapper JSON = new ObjectMapper();

  /** An HTTP answer: status and body, the body parsed when it is JSON. */
  record Answer(int status, String body) {
    JsonNode json() {
      try {
        return JSON.readTree(body);
      } catch (IOException e) {
        throw new UncheckedIOException("not JSON: " + body, e);
      }
    }
  }

  final Proxy proxy;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final ManagedChannel channel;
  final KafkaPixyGrpc.KafkaPixyBlockingStub grpc;

  ProxyClient(Proxy proxy) {
    this.proxy = proxy;
    this.channel = ManagedChannelBuilder.forAddress("127.0.0.1", proxy.grpcAddress().getPort()).usePlaintext().build();
    this.grpc = KafkaPixyGrpc.newBlockingStub(channel);
  }

  KafkaPixyGrpc.KafkaPixyBlockingStub grpc() {
    return grpc.withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + proxy.httpAddress().getPort() + pathAndQuery);
  }

  Answer get(String pathAndQuery) {
    return send(HttpRequest.newBuilder(uri(pathAndQuery)).GET());
  }

  Answer post(String pathAndQuery, String body) {
    return post(pathAndQuery, body.getBytes(StandardCharsets.UTF_8), "text/plain");
  }

  Answer post(String pathAndQuery, byte[] body, String type) {
    return send(HttpRequest.newBuilder(uri(pathAndQuery)).header("Content-Type", type)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
  }

  Answer send(HttpRequest.Builder b) {
    try {
      HttpResponse<String> r = http.send(b.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
      return new Answer(r.statusCode(), r.body());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
