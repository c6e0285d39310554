package io.kontrol.agent.rpc;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.kontrol.agent.metrics.AgentEvents;

/**
 * Reports every peer API call as it closes: its method's short name ({@code Transition}, {@code
 * Status}, {@code Invoke}) and its gRPC status code, rejected calls included (it runs outside the
 * token check).
 */
final class RequestCounter implements ServerInterceptor {

  private final AgentEvents events;

  RequestCounter(AgentEvents events) {
    this.events = events;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getBareMethodName();
    return next.startCall(
        new SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            events.peerRequest(method == null ? "unknown" : method, status.getCode().name());
            super.close(status, trailers);
          }
        },
        headers);
  }
}
