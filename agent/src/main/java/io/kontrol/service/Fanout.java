package io.kontrol.service;

import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.TransitionResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Sends members of a group the {@code configure} transition, all at once, and waits for every
 * answer: the part of a leader callback that every service shares.
 *
 * <p>{@link #configure} returns only when every member applied its input; when any member refused,
 * failed or did not answer within the {@link Member}'s own timeout, it throws {@link
 * CallbackException#failed} naming each of them (after waiting for the others, which are
 * configured regardless). The callback then prints no new state, so the agent keeps the old one
 * and runs the callback again with its retry back-off: a callback that sends the same input again
 * must therefore be harmless (the {@code configure} state is {@code force}d and idempotent).
 *
 * <p>Progress goes to the log, one line per member.
 */
public final class Fanout {
  /** The lifecycle state every member is sent. */
  public static final String CONFIGURE = "configure";

  /** The most members configured at the same time. */
  private static final int MAX_PARALLEL = 16;

  /** Sends one member a transition and waits for it to finish; never throws. */
  @FunctionalInterface
  public interface Member {
    /** @return null when the member applied it, else why not */
    String transition(String ip, String state, String input);
  }

  private final Member member;
  private final Consumer<String> log;

  public Fanout(Member member, Consumer<String> log) {
    this.member = Objects.requireNonNull(member, "member");
    this.log = Objects.requireNonNull(log, "log");
  }

  /**
   * Members reached through the peer API on {@code port}, each call waiting for the transition to
   * finish, at most {@code timeout}.
   */
  public static Member peers(PeerClient client, int port, Duration timeout) {
    return (ip, state, input) -> {
      TransitionResult r = client.transition(ip, port, state, input, true, timeout);
      return r.ok() ? null : r.outcome() + (r.reason().isEmpty() ? "" : ": " + r.reason());
    };
  }

  /**
   * Sends one member one transition and waits for it (bounded by the {@link Member}'s timeout):
   * for the steps a leader takes one member at a time, such as a rolling restart.
   *
   * @throws CallbackException (failed) naming the member and why, when it did not apply it
   */
  public void transition(String ip, String state, String input) throws CallbackException {
    String failure;
    try {
      failure = member.transition(ip, state, input);
    } catch (RuntimeException e) {
      failure = String.valueOf(e);
    }
    if (failure != null) {
      log.accept(ip + " NOT " + state + ": " + failure);
      throw CallbackException.failed(ip + " did not apply " + state + ": " + failure);
    }
    log.accept(ip + " " + state + ": done");
  }

  /** Sends every one of {@code ips} the same {@code input}; see {@link #configure(Map)}. */
  public void configure(List<String> ips, String input) throws CallbackException {
    Map<String, String> inputs = new java.util.LinkedHashMap<>();
    ips.forEach(ip -> inputs.put(ip, input));
    configure(inputs);
  }

  /**
   * Sends each member (by IP) its input as a {@code configure} transition, concurrently, and waits
   * for all of them.
   *
   * @throws CallbackException (failed) when any member did not apply it
   */
  public void configure(Map<String, String> inputs) throws CallbackException {
    if (inputs.isEmpty()) {
      return;
    }
    List<String> ips = List.copyOf(inputs.keySet());
    AtomicInteger n = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.min(ips.size(), MAX_PARALLEL),
            r -> {
              Thread t = new Thread(r, "callback-fanout-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    try {
      List<Future<String>> answers = new ArrayList<>();
      for (String ip : ips) {
        answers.add(pool.submit(() -> member.transition(ip, CONFIGURE, inputs.get(ip))));
      }
      List<String> failures = new ArrayList<>();
      for (int i = 0; i < ips.size(); i++) {
        String failure;
        try {
          // each call is bounded by its own timeout (the Member's contract)
          failure = answers.get(i).get();
        } catch (ExecutionException e) {
          failure = String.valueOf(e.getCause());
        }
        if (failure == null) {
          log.accept(ips.get(i) + " configured");
        } else {
          log.accept(ips.get(i) + " NOT configured: " + failure);
          failures.add(ips.get(i) + " (" + failure + ")");
        }
      }
      if (!failures.isEmpty()) {
        throw CallbackException.failed(
            failures.size() + " of " + ips.size() + " member(s) not configured: " + String.join(", ", failures));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CallbackException.failed("interrupted while configuring the members");
    } finally {
      pool.shutdownNow();
      try {
        pool.awaitTermination(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
