package io.kontrol.agent.rpc;

import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.kontrol.agent.metrics.AgentEvents;
import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pod's peer API server on {@code KONTROL_PORT}: {@code Transition}, {@code Status}, {@code
 * Invoke}, behind the token check and, when {@code KONTROL_TLS_*} are set, TLS (mutual when a CA
 * is given).
 *
 * <p>Lifecycle: {@link #start} binds and serves; {@link #close()} stops accepting, gives calls in
 * flight five seconds, then cancels them.
 */
public final class PeerServer implements Closeable {

  private static final Logger LOG = LoggerFactory.getLogger(PeerServer.class);

  private enum State { STARTED, CLOSED }

  private final Server server;
  private final ExecutorService executor;
  private final AtomicReference<State> state = new AtomicReference<>(State.STARTED);

  private PeerServer(Server server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Binds {@code config.port()} (0 = any free port, see {@link #port()}) on every interface.
   *
   * @throws IOException when the port cannot be bound
   * @throws IllegalArgumentException when the TLS files cannot be loaded
   */
  public static PeerServer start(PeerConfig config, StatusSource status) throws IOException {
    return start(config, status, AgentEvents.NONE);
  }

  /** As above, reporting calls, transitions and the automaton's state to {@code events}. */
  public static PeerServer start(PeerConfig config, StatusSource status, AgentEvents events)
      throws IOException {
    return start(config, status, events, new LastInputs());
  }

  /** As above, recording every transition's input in {@code inputs}. */
  public static PeerServer start(PeerConfig config, StatusSource status, AgentEvents events, LastInputs inputs)
      throws IOException {
    AtomicInteger n = new AtomicInteger();
    // a cached pool: a WAIT holds its thread while the automaton runs the state's script
    ExecutorService executor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "kontrol-peer-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    PeerService service = new PeerService(config, status, System::nanoTime, events, inputs);
    Server server = Grpc.newServerBuilderForPort(config.port(), credentials(config))
        .executor(executor)
        .addService(ServerInterceptors.intercept(config.token().isPresent()
            ? ServerInterceptors.intercept(service, new TokenInterceptor(config.token().get()))
            : service.bindService(), new RequestCounter(events)))
        .build();
    try {
      server.start();
    } catch (IOException e) {
      executor.shutdownNow();
      throw new IOException("cannot serve the peer API on port " + config.port() + ": " + e.getMessage(), e);
    }
    if (config.token().isEmpty()) {
      LOG.warn("peer API on port {} has no token (KONTROL_TOKEN/KONTROL_TOKEN_FILE): anyone who reaches the port may call it",
          server.getPort());
    }
    LOG.info("peer API serving on port {} ({})", server.getPort(), config);
    return new PeerServer(server, executor);
  }

  private static ServerCredentials credentials(PeerConfig config) {
    if (!config.tls()) {
      return InsecureServerCredentials.create();
    }
    if (config.tlsCert().isEmpty()) {
      throw new IllegalArgumentException("TLS for the peer API needs KONTROL_TLS_CERT and KONTROL_TLS_KEY");
    }
    try {
      TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder()
          .keyManager(config.tlsCert().get().toFile(), config.tlsKey().orElseThrow().toFile());
      if (config.tlsCa().isPresent()) {
        tls.trustManager(config.tlsCa().get().toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
      }
      return tls.build();
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("cannot load the TLS files of KONTROL_TLS_*: " + e.getMessage(), e);
    }
  }

  /** The bound port. */
  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    if (!state.compareAndSet(State.STARTED, State.CLOSED)) {
      return;
    }
    try {
      server.shutdown();
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow();
        server.awaitTermination(2, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      executor.shutdownNow();
      LOG.info("peer API stopped");
    }
  }
}
