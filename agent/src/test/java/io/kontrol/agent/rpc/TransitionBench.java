package io.kontrol.agent.rpc;

import io.kontrol.automaton.testing.AutomatonProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/**
 * Benchmark (not a test): {@code Transition(wait=true)} round trips over loopback gRPC to a real
 * automaton whose state runs {@code true}; prints p50/p99/max.
 *
 * <pre>
 * java -cp CLASSPATH io.kontrol.agent.rpc.TransitionBench [ROUNDS]
 * </pre>
 */
public final class TransitionBench {

  private TransitionBench() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
    Path dir = Files.createTempDirectory("transition-bench");
    try (AutomatonProcess automaton = AutomatonProcess.start(dir, PeerTestManifest.YAML)) {
      PeerConfig config = PeerConfig.newBuilder().port(0).socket(automaton.socket()).token("bench").build();
      try (PeerServer server = PeerServer.start(config, StatusSource.none());
          PeerClient client = new PeerClient(config)) {
        Duration timeout = Duration.ofSeconds(10);
        for (int i = 0; i < 300; i++) {
          check(client.transition("127.0.0.1", server.port(), "ready", null, true, timeout));
        }
        long[] ns = new long[rounds];
        for (int i = 0; i < rounds; i++) {
          long t0 = System.nanoTime();
          check(client.transition("127.0.0.1", server.port(), "ready", null, true, timeout));
          ns[i] = System.nanoTime() - t0;
        }
        Arrays.sort(ns);
        System.out.printf("Transition(wait=true) to a `true` state, %d rounds: p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
            rounds, ns[rounds / 2] / 1e6, ns[(int) (rounds * 0.99)] / 1e6, ns[rounds - 1] / 1e6);
      }
    }
  }

  private static void check(TransitionResult r) {
    if (!r.ok()) {
      throw new IllegalStateException("transition failed: " + r);
    }
  }
}
