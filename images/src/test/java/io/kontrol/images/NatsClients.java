package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener.Events;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.Subscription;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Real NATS clients (jnats), one per broker, each connected to that broker only (a reconnect
 * elsewhere would hide a disconnect); every disconnect is counted per pod.
 */
final class NatsClients implements AutoCloseable {
  private final Map<NatsPod, Connection> clients = new LinkedHashMap<>();
  private final Map<String, AtomicInteger> disconnects = new ConcurrentHashMap<>();
  private final String prefix;

  NatsClients(String prefix) {
    this.prefix = prefix;
  }

  /** Connects a client to {@code pod}'s broker (at {@link NatsPod#clientUrl()}). */
  Connection connect(NatsPod pod) throws Exception {
    AtomicInteger count = disconnects.computeIfAbsent(pod.name, k -> new AtomicInteger());
    Options options =
        new Options.Builder()
            .server(pod.clientUrl())
            .connectionName(prefix + "-" + pod.name)
            .ignoreDiscoveredServers()
            .maxReconnects(-1)
            .connectionListener(
                (conn, event) -> {
                  if (event == Events.DISCONNECTED) {
                    count.incrementAndGet();
                  }
                })
            .build();
    Connection c = Nats.connect(options);
    clients.put(pod, c);
    return c;
  }

  Connection get(NatsPod pod) {
    return clients.get(pod);
  }

  java.util.Collection<Connection> all() {
    return clients.values();
  }

  /** Closes {@code pod}'s client and forgets its disconnects (its broker is going away). */
  void drop(NatsPod pod) {
    closeQuietly(clients.remove(pod));
    disconnects.remove(pod.name);
  }

  /** Disconnects seen per pod since its client connected. */
  Map<String, Integer> disconnects() {
    Map<String, Integer> out = new LinkedHashMap<>();
    disconnects.forEach((pod, n) -> out.put(pod, n.get()));
    return out;
  }

  /** A message published on {@code from}'s broker reaches a subscriber on {@code to}'s (through the routes). */
  void assertDelivery(NatsPod from, NatsPod to) throws Exception {
    String subject = prefix + "." + from.name + "." + to.name + "." + System.nanoTime();
    Subscription sub = clients.get(to).subscribe(subject);
    clients.get(to).flush(Duration.ofSeconds(5));
    // interest crosses the route asynchronously: publish until one arrives
    Message[] got = new Message[1];
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              clients.get(from).publish(subject, ("hello from " + from.name).getBytes(StandardCharsets.UTF_8));
              clients.get(from).flush(Duration.ofSeconds(2));
              got[0] = sub.nextMessage(Duration.ofMillis(300));
              return got[0] != null;
            });
    assertThat(new String(got[0].getData(), StandardCharsets.UTF_8)).isEqualTo("hello from " + from.name);
    sub.unsubscribe();
  }

  @Override
  public void close() {
    clients.values().forEach(NatsClients::closeQuietly);
    clients.clear();
  }

  static void closeQuietly(Connection connection) {
    if (connection == null) {
      return;
    }
    try {
      connection.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
