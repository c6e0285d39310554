package io.kontrol.agent.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import io.kontrol.agent.rpc.v1.TransitionRequest;
import io.kontrol.automaton.socket.Request;
import io.kontrol.automaton.socket.SocketServer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * The peer API's transition request as it comes off the wire: any bytes are decoded as a {@code
 * TransitionRequest} (protobuf) and checked by {@link PeerService#refusal}. A request the agent
 * accepts must reach the automaton as exactly that transition: one protocol line within the
 * automaton's limit, which its parser reads back as the same verb, state and input. A request
 * the automaton would refuse is refused here first, with a reason.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PeerRequestFuzz {

  // CI fuzzes a fixed number of inputs from a fixed seed (see CONTRIBUTING.md, "Fuzz")
  @FuzzTest(maxDuration = "30s", maxExecutions = 120000)
  void transition(byte[] wire) {
    TransitionRequest request;
    try {
      request = TransitionRequest.parseFrom(wire);
    } catch (InvalidProtocolBufferException e) {
      return; // gRPC answers INTERNAL for bytes that are not the message
    }
    Optional<String> refused = PeerService.refusal(request);
    if (refused.isPresent()) {
      assertThat(refused.get()).isNotBlank();
      return;
    }
    String line = PeerService.line(request);
    assertThat(line.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(SocketServer.MAX_LINE);
    assertThat(line).doesNotContain("\n");
    Request parsed = Request.parse(line);
    assertThat(parsed).as("the automaton reads %s", line)
        .isEqualTo(new Request.Transition(request.getState(), request.getInput(), request.getWait()));
  }
}
