package io.kontrol.proxy;

import io.grpc.Status;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * A request that failed, with the kind that decides its HTTP status and gRPC code. The kinds and
 * codes are Kafka-Pixy's: 400 / INVALID_ARGUMENT for a bad request, 404 / NOT_FOUND for an
 * unknown topic, 408 / NOT_FOUND for a long poll that ended empty, 429 / RESOURCE_EXHAUSTED for
 * too many waiting consumers, 500 / INTERNAL for a broker failure, 503 / UNAVAILABLE while the
 * proxy shuts down. 409 / FAILED_PRECONDITION (offsets of a group that is still consuming) and
 * 413 (a request body over the HTTP limit) are this proxy's additions.
 */
public final class ProxyError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What went wrong, as far as the client is concerned. */
  public enum Kind {
    BAD_REQUEST(400, Status.Code.INVALID_ARGUMENT),
    NOT_FOUND(404, Status.Code.NOT_FOUND),
    LONG_POLL_TIMEOUT(408, Status.Code.NOT_FOUND),
    CONFLICT(409, Status.Code.FAILED_PRECONDITION),
    TOO_LARGE(413, Status.Code.INVALID_ARGUMENT),
    TOO_MANY_REQUESTS(429, Status.Code.RESOURCE_EXHAUSTED),
    BROKER(500, Status.Code.INTERNAL),
    UNAVAILABLE(503, Status.Code.UNAVAILABLE);

    public final int httpStatus;
    public final Status.Code grpcCode;

    Kind(int httpStatus, Status.Code grpcCode) {
      this.httpStatus = httpStatus;
      this.grpcCode = grpcCode;
    }
  }

  private final Kind kind;

  public ProxyError(Kind kind, String message) {
    super(message, null, false, false); // expected conditions: no stack trace to fill or log
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  public static ProxyError badRequest(String message) {
    return new ProxyError(Kind.BAD_REQUEST, message);
  }

  public static ProxyError unknownTopic(String topic) {
    return new ProxyError(Kind.NOT_FOUND, "unknown topic: " + topic);
  }

  /**
   * The error a failure of a Kafka call means for the client: unknown topics and groups are 404,
   * a record over the broker's limit and an invalid topic name are 400, the rest is a broker
   * failure (500) whose message names the Kafka exception.
   */
  public static ProxyError from(Throwable failure) {
    Throwable t = unwrap(failure);
    if (t instanceof ProxyError e) {
      return e;
    }
    if (t instanceof UnknownTopicOrPartitionException) {
      return new ProxyError(Kind.NOT_FOUND, "unknown topic: " + t.getMessage());
    }
    if (t instanceof GroupIdNotFoundException) {
      return new ProxyError(Kind.NOT_FOUND, "unknown group: " + t.getMessage());
    }
    if (t instanceof RecordTooLargeException || t instanceof InvalidTopicException) {
      return new ProxyError(Kind.BAD_REQUEST, t.getMessage());
    }
    if (t instanceof GroupNotEmptyException) {
      return new ProxyError(Kind.CONFLICT, t.getMessage());
    }
    if (t instanceof CancellationException) {
      return new ProxyError(Kind.UNAVAILABLE, "request cancelled: the proxy is shutting down");
    }
    String what = t.getMessage() == null ? "" : ": " + t.getMessage();
    return new ProxyError(Kind.BROKER, "kafka: " + t.getClass().getSimpleName() + what);
  }

  /** The cause a CompletableFuture or KafkaFuture wrapped. */
  public static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }
}
