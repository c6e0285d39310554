package io.kontrol.agent.rpc;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rejects, before any handler runs, every call that does not carry {@code authorization: Bearer
 * <token>} with the pod's token: status {@code UNAUTHENTICATED}, one log line naming the caller's
 * address and the method, and nothing changed.
 */
final class TokenInterceptor implements ServerInterceptor {

  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  static final String BEARER = "Bearer ";

  private static final Logger LOG = LoggerFactory.getLogger(TokenInterceptor.class);

  private final byte[] expected;

  TokenInterceptor(String token) {
    this.expected = (BEARER + token).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String given = headers.get(AUTHORIZATION);
    // MessageDigest.isEqual takes the same time whatever the first differing byte
    if (given != null && MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8))) {
      return next.startCall(call, headers);
    }
    SocketAddress who = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    LOG.warn("peer call rejected: {} token, from {}, method {}", given == null ? "no" : "wrong", who,
        call.getMethodDescriptor().getFullMethodName());
    call.close(Status.UNAUTHENTICATED.withDescription(given == null ? "a token is required" : "wrong token"), new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
