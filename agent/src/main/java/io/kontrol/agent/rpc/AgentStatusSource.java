package io.kontrol.agent.rpc;

import io.kontrol.agent.Agent;
import io.kontrol.agent.AgentStatus;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.metrics.AgentEvents;
import io.kontrol.agent.rpc.v1.StatusReply;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The agent's part of {@code Status}, read from {@link Agent#status()}; before the agent has
 * started (the peer server starts first), only what the configuration says.
 */
public final class AgentStatusSource implements StatusSource {

  private final AgentConfig config;
  private final AtomicReference<Agent> agent = new AtomicReference<>();

  public AgentStatusSource(AgentConfig config) {
    this.config = config;
  }

  /**
   * The peer server of an agent: {@code KONTROL_PORT}, token and TLS from its environment; every
   * transition's input is recorded in {@code inputs}.
   *
   * @throws UncheckedIOException when the port cannot be bound
   * @throws IllegalArgumentException on a bad setting (token file, TLS files)
   */
  public static PeerServer startServer(AgentConfig config, AgentStatusSource source) {
    return startServer(config, source, AgentEvents.NONE);
  }

  /** As above, reporting calls to {@code events} (metrics). */
  public static PeerServer startServer(AgentConfig config, AgentStatusSource source, AgentEvents events) {
    return startServer(config, source, events, new LastInputs());
  }

  /** As above, recording every transition's input in {@code inputs}. */
  public static PeerServer startServer(AgentConfig config, AgentStatusSource source, AgentEvents events,
      LastInputs inputs) {
    try {
      return PeerServer.start(PeerConfig.fromEnv(config.env()), source, events, inputs);
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  /** Attaches the running agent. */
  public void attach(Agent running) {
    agent.set(running);
  }

  @Override
  public void fill(StatusReply.Builder reply) {
    reply.setId(config.id()).setIp(config.ip()).setMode(config.env().getOrDefault(AgentConfig.KONTROL_MODE, "slave"));
    Agent a = agent.get();
    if (a == null) {
      return;
    }
    AgentStatus s = a.status();
    Set<Group> groups = new LinkedHashSet<>(s.reportsTo());
    groups.addAll(s.leads().keySet());
    groups.addAll(s.records().keySet());
    for (Group g : groups) {
      String record = s.records().getOrDefault(g, "");
      reply.addGroups(io.kontrol.agent.rpc.v1.Group.newBuilder()
          .setKey(g.prefix()).setLeader(s.leads(g)).setLeaderId(s.leads(g) ? s.id() : "").setRecordJson(record));
      if (reply.getRecordJson().isEmpty()) {
        reply.setRecordJson(record);
      }
    }
    s.lastState().ifPresent(reply::setLastStateJson);
    s.lastDigest().ifPresent(reply::setLastDigest);
    s.lastCallback()
        .ifPresent(c -> reply.setLastCallbackUnixMs(c.endedMillis()).setLastCallbackResult(c.result()));
  }
}
