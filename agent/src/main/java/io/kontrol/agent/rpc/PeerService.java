package io.kontrol.agent.rpc;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.kontrol.agent.metrics.AgentEvents;
import io.kontrol.agent.rpc.v1.InvokeReply;
import io.kontrol.agent.rpc.v1.InvokeRequest;
import io.kontrol.agent.rpc.v1.Outcome;
import io.kontrol.agent.rpc.v1.PeerGrpc;
import io.kontrol.agent.rpc.v1.StatusReply;
import io.kontrol.agent.rpc.v1.StatusRequest;
import io.kontrol.agent.rpc.v1.TransitionReply;
import io.kontrol.agent.rpc.v1.TransitionRequest;
import io.kontrol.automaton.client.AutomatonClient;
import io.kontrol.automaton.socket.SocketServer;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The peer API's handlers. Calls arrive here authenticated (see {@link TokenInterceptor}); each
 * runs on a thread of the server's executor and is bounded by its own timeout and by the call's
 * deadline, whichever is earlier.
 */
final class PeerService extends PeerGrpc.PeerImplBase {

  private static final Logger LOG = LoggerFactory.getLogger(PeerService.class);

  /** Longest line the automaton reads: a transition's verb, state and input together. */
  static final int MAX_LINE = SocketServer.MAX_LINE;

  static final Duration DEFAULT_GOTO_TIMEOUT = Duration.ofSeconds(5);
  static final Duration DEFAULT_WAIT_TIMEOUT = Duration.ofSeconds(60);
  /** Time given to the follow-up {@code STATE} question. */
  static final Duration STATE_TIMEOUT = Duration.ofSeconds(1);

  /** A state tag: no whitespace, no control characters (the automaton refuses those). */
  private static final Pattern TAG = Pattern.compile("[^\\s\\p{Cntrl}]+");

  private final PeerConfig config;
  private final StatusSource status;
  private final AutomatonClient automaton;
  private final InvokeRunner invoker;
  private final LastInputs inputs;
  private final LongSupplier nanoClock;
  private final long startNanos;
  private final String version;
  private final AgentEvents events;

  PeerService(PeerConfig config, StatusSource status, LongSupplier nanoClock) {
    this(config, status, nanoClock, AgentEvents.NONE, new LastInputs());
  }

  PeerService(PeerConfig config, StatusSource status, LongSupplier nanoClock, AgentEvents events,
      LastInputs inputs) {
    this.events = events;
    this.config = config;
    this.status = status;
    this.inputs = inputs;
    this.automaton = new AutomatonClient(config.socket());
    this.invoker = new InvokeRunner(config.invokeMaxOutput());
    this.nanoClock = nanoClock;
    this.startNanos = nanoClock.getAsLong();
    this.version = io.kontrol.agent.Agent.version();
  }

  @Override
  public void transition(TransitionRequest request, StreamObserver<TransitionReply> reply) {
    Optional<String> refused = refusal(request);
    if (refused.isPresent()) {
      reject(reply, Status.INVALID_ARGUMENT, refused.get());
      return;
    }
    String state = request.getState();
    String input = request.getInput();
    Duration timeout = bounded(request.getTimeoutMs(), request.getWait() ? DEFAULT_WAIT_TIMEOUT : DEFAULT_GOTO_TIMEOUT);
    String verb = request.getWait() ? "WAIT" : "GOTO";
    String line = line(request);
    inputs.record(state, input);

    TransitionReply.Builder out = TransitionReply.newBuilder();
    String answer;
    try {
      answer = automaton.send(line, timeout);
    } catch (ConnectException e) {
      reject(reply, Status.UNAVAILABLE, "the automaton is not running: nothing listens on " + config.socket());
      return;
    } catch (IOException e) {
      reject(reply, Status.UNAVAILABLE, "the automaton at " + config.socket() + " failed: " + e.getMessage());
      return;
    } catch (TimeoutException e) {
      out.setOutcome(Outcome.TIMEOUT)
          .setReason("the automaton did not answer " + verb + " " + state + " within " + timeout.toMillis() + " ms");
      out.setState(currentState());
      events.transition("timeout");
      LOG.info("peer transition {} {}: timeout after {} ms", verb, state, timeout.toMillis());
      reply.onNext(out.build());
      reply.onCompleted();
      return;
    }
    String now = currentState();
    out.setState(now);
    if (answer.equals("OK")) {
      out.setOutcome(Outcome.OK);
    } else {
      String detail = answer.startsWith("KO") ? answer.substring(2).trim() : answer;
      out.setOutcome(Outcome.KO)
          .setReason(detail.isEmpty()
              ? "the automaton refused '" + state + "' from '" + now + "': unknown state, or not allowed from there"
              : detail);
    }
    events.transition(out.getOutcome() == Outcome.OK ? "ok" : "ko");
    LOG.info("peer transition {} {}: {} (state {})", verb, state, out.getOutcome(), now.isEmpty() ? "unknown" : now);
    reply.onNext(out.build());
    reply.onCompleted();
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusReply> reply) {
    StatusReply.Builder out = StatusReply.newBuilder();
    try {
      status.fill(out);
    } catch (RuntimeException e) {
      LOG.warn("status of the agent unavailable: {}", e.toString());
    }
    out.setAutomatonState(currentState())
        .setVersion(version)
        .setUptimeMs(TimeUnit.NANOSECONDS.toMillis(nanoClock.getAsLong() - startNanos));
    reply.onNext(out.build());
    reply.onCompleted();
  }

  @Override
  public void invoke(InvokeRequest request, StreamObserver<InvokeReply> reply) {
    if (!config.allowInvoke()) {
      LOG.warn("peer invoke refused: disabled on this pod");
      reject(reply, Status.PERMISSION_DENIED, "Invoke is disabled on this pod (the operator enables it with KONTROL_ALLOW_INVOKE=true)");
      return;
    }
    if (request.getCommand().isBlank()) {
      reject(reply, Status.INVALID_ARGUMENT, "the command is empty");
      return;
    }
    Duration limit = config.invokeTimeout();
    Duration timeout = bounded(request.getTimeoutMs(), limit);
    if (timeout.compareTo(limit) > 0) {
      timeout = limit;
    }
    try {
      InvokeResult r = invoker.run(request.getCommand(), timeout);
      LOG.info("peer invoke ran: exit {}{}, {} bytes of output", r.exitCode(), r.timedOut() ? " (killed at timeout)" : "",
          r.output().length());
      reply.onNext(InvokeReply.newBuilder().setExitCode(r.exitCode()).setOutput(r.output())
          .setTruncated(r.truncated()).setTimedOut(r.timedOut()).build());
      reply.onCompleted();
    } catch (IOException e) {
      reject(reply, Status.INTERNAL, "cannot run the command: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      reject(reply, Status.CANCELLED, "interrupted");
    }
  }

  /**
   * Why the automaton could not take this transition as one protocol line, or empty when it can:
   * the state must be one tag, the input one line of text (tab allowed, no other control
   * character), and the whole line within the automaton's limit.
   */
  static Optional<String> refusal(TransitionRequest request) {
    String state = request.getState();
    String input = request.getInput();
    if (!TAG.matcher(state).matches()) {
      return Optional.of("the state must be one tag without spaces or control characters, not '" + printable(state) + "'");
    }
    if (input.indexOf('\n') >= 0 || input.indexOf('\r') >= 0) {
      return Optional.of("the input must be one line (send compact JSON)");
    }
    for (int i = 0; i < input.length(); i++) {
      char c = input.charAt(i);
      if ((c < ' ' && c != '\t') || c == 0x7f) {
        return Optional.of("the input has control character 0x" + Integer.toHexString(c) + " at offset " + i
            + " (escape it: the automaton takes one line of text)");
      }
    }
    int size = line(request).getBytes(StandardCharsets.UTF_8).length;
    if (size > MAX_LINE) {
      return Optional.of("the transition is " + size + " bytes as a line; the automaton reads at most " + MAX_LINE
          + " (64 KiB: state and input together)");
    }
    return Optional.empty();
  }

  /** The protocol line for the request: {@code GOTO|WAIT <state> [input]}. */
  static String line(TransitionRequest request) {
    String input = request.getInput();
    return (request.getWait() ? "WAIT" : "GOTO") + " " + request.getState() + (input.isEmpty() ? "" : " " + input);
  }

  private static String printable(String s) {
    String cut = s.length() > 64 ? s.substring(0, 64) + "..." : s;
    return cut.replaceAll("\\p{Cntrl}", "?");
  }

  /** The automaton's current state, or empty when it does not answer. */
  private String currentState() {
    try {
      String s = automaton.send("STATE", bounded(0, STATE_TIMEOUT));
      String now = s.equals("KO") ? "" : s;
      events.automatonState(now);
      return now;
    } catch (IOException | TimeoutException e) {
      events.automatonState("");
      return "";
    }
  }

  /** The requested timeout (or the default), no later than the call's deadline. */
  private static Duration bounded(long requestedMillis, Duration fallback) {
    Duration t = requestedMillis > 0 ? Duration.ofMillis(requestedMillis) : fallback;
    Deadline deadline = Context.current().getDeadline();
    if (deadline != null) {
      long left = deadline.timeRemaining(TimeUnit.MILLISECONDS);
      t = Duration.ofMillis(Math.max(1, Math.min(t.toMillis(), left)));
    }
    return t;
  }

  private static void reject(StreamObserver<?> reply, Status status, String message) {
    reply.onError(status.withDescription(message).asRuntimeException());
  }
}
