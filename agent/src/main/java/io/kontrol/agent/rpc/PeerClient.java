package io.kontrol.agent.rpc;

import io.grpc.ChannelCredentials;
import io.grpc.Deadline;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import io.kontrol.agent.rpc.v1.InvokeReply;
import io.kontrol.agent.rpc.v1.InvokeRequest;
import io.kontrol.agent.rpc.v1.PeerGrpc;
import io.kontrol.agent.rpc.v1.StatusReply;
import io.kontrol.agent.rpc.v1.StatusRequest;
import io.kontrol.agent.rpc.v1.TransitionReply;
import io.kontrol.agent.rpc.v1.TransitionRequest;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Calls the peer API of other pods: the leader's callbacks ask every pod's automaton to act, and
 * {@code kontrol peer} is a thin shell over this class.
 *
 * <p>One channel per {@code host:port}, opened on first use and kept until {@link #close()}; the
 * token and TLS settings come from a {@link PeerConfig} ({@code KONTROL_TOKEN}/{@code
 * KONTROL_TOKEN_FILE}, {@code KONTROL_TLS_*}). Thread-safe.
 *
 * <pre>{@code
 * try (PeerClient peers = new PeerClient(PeerConfig.fromEnv(System.getenv()))) {
 *   TransitionResult r = peers.transition("10.0.0.7", 8000, "configure", json, true, Duration.ofSeconds(30));
 *   if (!r.ok()) log.warn("{}: {} {}", ip, r.outcome(), r.reason());
 * }
 * }</pre>
 */
public final class PeerClient implements Closeable {

  /**
   * Time allowed beyond the caller's timeout for the reply to travel back, so that the peer
   * reports its automaton's timeout itself rather than the call being cut by the deadline.
   */
  static final Duration TRANSPORT_MARGIN = Duration.ofSeconds(2);

  private final PeerConfig config;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile boolean closed;

  public PeerClient(PeerConfig config) {
    this.config = Objects.requireNonNull(config, "config");
  }

  /**
   * Asks a peer's automaton to go to {@code state} ({@code GOTO}), or with {@code wait} to go
   * and finish its script ({@code WAIT}). Never throws for a failed call: the result says how it
   * ended, and never later than {@code timeout} plus a short transport margin.
   *
   * @param input the state's {@code $INPUT} (null for none); one line, with the state at most 64 KiB
   */
  public TransitionResult transition(String host, int port, String state, String input, boolean wait, Duration timeout) {
    Objects.requireNonNull(state, "state");
    TransitionRequest request = TransitionRequest.newBuilder()
        .setState(state)
        .setInput(input == null ? "" : input)
        .setWait(wait)
        .setTimeoutMs(millis(timeout))
        .build();
    try {
      TransitionReply reply = stub(host, port, timeout.plus(TRANSPORT_MARGIN)).transition(request);
      switch (reply.getOutcome()) {
        case OK:
          return new TransitionResult(PeerOutcome.OK, "", reply.getState());
        case KO:
          return new TransitionResult(PeerOutcome.KO, reply.getReason(), reply.getState());
        case TIMEOUT:
          return new TransitionResult(PeerOutcome.TIMEOUT, reply.getReason(), reply.getState());
        default:
          return new TransitionResult(PeerOutcome.UNAVAILABLE, "unexpected reply " + reply.getOutcome(), reply.getState());
      }
    } catch (StatusRuntimeException e) {
      return new TransitionResult(PeerOutcome.of(e.getStatus().getCode()), describe(host, port, e), "");
    }
  }

  /** The peer's status. */
  public StatusReply status(String host, int port, Duration timeout) throws PeerException {
    try {
      return stub(host, port, timeout).status(StatusRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      throw new PeerException(PeerOutcome.of(e.getStatus().getCode()), describe(host, port, e), e);
    }
  }

  /**
   * Runs a shell command on the peer, which refuses unless its operator set {@code
   * KONTROL_ALLOW_INVOKE=true}.
   */
  public InvokeResult invoke(String host, int port, String command, Duration timeout) throws PeerException {
    InvokeRequest request = InvokeRequest.newBuilder().setCommand(command).setTimeoutMs(millis(timeout)).build();
    try {
      InvokeReply reply = stub(host, port, timeout.plus(TRANSPORT_MARGIN)).invoke(request);
      return new InvokeResult(reply.getExitCode(), reply.getOutput(), reply.getTruncated(), reply.getTimedOut());
    } catch (StatusRuntimeException e) {
      throw new PeerException(PeerOutcome.of(e.getStatus().getCode()), describe(host, port, e), e);
    }
  }

  private PeerGrpc.PeerBlockingStub stub(String host, int port, Duration deadline) {
    if (closed) {
      throw new IllegalStateException("this PeerClient is closed");
    }
    ManagedChannel channel = channels.computeIfAbsent(host + ":" + port, k -> open(host, port));
    return PeerGrpc.newBlockingStub(channel)
        .withDeadline(Deadline.after(Math.max(1, deadline.toMillis()), TimeUnit.MILLISECONDS));
  }

  private ManagedChannel open(String host, int port) {
    ManagedChannelBuilder<?> builder = Grpc.newChannelBuilderForAddress(host, port, credentials());
    config.tlsAuthority().ifPresent(builder::overrideAuthority);
    config.token().ifPresent(token -> {
      Metadata headers = new Metadata();
      headers.put(TokenInterceptor.AUTHORIZATION, TokenInterceptor.BEARER + token);
      builder.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
    });
    return builder.maxInboundMessageSize(8 << 20).build();
  }

  private ChannelCredentials credentials() {
    if (!config.tls()) {
      return InsecureChannelCredentials.create();
    }
    try {
      TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder();
      if (config.tlsCert().isPresent()) {
        tls.keyManager(config.tlsCert().get().toFile(), config.tlsKey().orElseThrow().toFile());
      }
      if (config.tlsCa().isPresent()) {
        tls.trustManager(config.tlsCa().get().toFile());
      }
      return tls.build();
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot load the TLS files of KONTROL_TLS_*: " + e.getMessage(), e);
    }
  }

  private static int millis(Duration timeout) {
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("the timeout must be positive");
    }
    return (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
  }

  private static String describe(String host, int port, StatusRuntimeException e) {
    String what = e.getStatus().getDescription();
    switch (e.getStatus().getCode()) {
      case DEADLINE_EXCEEDED:
        return host + ":" + port + " did not answer in time";
      case UNAVAILABLE:
        return host + ":" + port + " unavailable: " + (what == null ? "no connection" : what);
      default:
        return host + ":" + port + " " + e.getStatus().getCode() + (what == null ? "" : ": " + what);
    }
  }

  /** Closes every channel, waiting at most a second for calls in flight. */
  @Override
  public void close() {
    closed = true;
    try {
      for (ManagedChannel c : channels.values()) {
        c.shutdown();
      }
      for (ManagedChannel c : channels.values()) {
        if (!c.awaitTermination(1, TimeUnit.SECONDS)) {
          c.shutdownNow();
        }
      }
    } catch (InterruptedException e) {
      channels.values().forEach(ManagedChannel::shutdownNow);
      Thread.currentThread().interrupt();
    } finally {
      channels.clear();
    }
  }
}
