package io.kontrol.proxy.grpc;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.kontrol.proxy.Services;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC server (grpc-netty-shaded) with Pixy's {@code KafkaPixy} service. Calls run on a small
 * fixed pool ({@code proxy-grpc-*}) and only start asynchronous work, so a long poll holds no
 * thread. Messages up to the configured request size are accepted.
 */
public final class GrpcApi implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(GrpcApi.class);

  private final Server server;
  private final ExecutorService executor;

  public GrpcApi(Services services, InetSocketAddress address) throws IOException {
    AtomicInteger n = new AtomicInteger();
    this.executor =
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "proxy-grpc-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    try {
      this.server =
          NettyServerBuilder.forAddress(address)
              .executor(executor)
              .maxInboundMessageSize(services.config().maxRequestBytes() + 64 * 1024)
              .addService(new PixyService(services))
              .build()
              .start();
    } catch (IOException | RuntimeException e) {
      executor.shutdownNow();
      throw e;
    }
    log.info("grpc listening on {}", server.getListenSockets());
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) server.getListenSockets().get(0);
  }

  @Override
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      executor.shutdownNow();
    }
  }
}
