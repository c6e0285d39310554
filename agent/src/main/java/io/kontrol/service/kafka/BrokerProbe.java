package io.kontrol.service.kafka;

import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * The local broker's state over JMX ({@code kafka.server:type=KafkaServer,name=BrokerState} on
 * 127.0.0.1:9999, which kafka-server-start opens on loopback only). Every probe is bounded: a
 * stopped or hung JVM accepts the TCP connection and never answers, so the call runs on its own
 * thread and is abandoned after the timeout.
 */
public final class BrokerProbe implements AutoCloseable {

  /** Kafka's BrokerState values. */
  public static final int NOT_RUNNING = 0;

  public static final int STARTING = 1;
  public static final int RECOVERY = 2;
  public static final int RUNNING = 3;
  public static final int PENDING_CONTROLLED_SHUTDOWN = 6;
  public static final int SHUTTING_DOWN = 7;

  /** What a probe found: a state, or why there is none. */
  public record Result(Integer state, String failure) {
    public boolean answered() {
      return state != null;
    }
  }

  private static final ObjectName BROKER_STATE = name("kafka.server:type=KafkaServer,name=BrokerState");

  private final JMXServiceURL url;
  private final long timeoutMs;
  private final AtomicInteger n = new AtomicInteger();
  private final ExecutorService pool =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "kafka-jmx-probe-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
          });

  public BrokerProbe(String host, int port, long timeoutMs) {
    try {
      this.url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + host + ":" + port + "/jmxrmi");
    } catch (java.net.MalformedURLException e) {
      throw new IllegalArgumentException("bad JMX address " + host + ":" + port, e);
    }
    this.timeoutMs = timeoutMs;
  }

  /** One bounded probe. */
  public Result probe() {
    Future<Integer> f =
        pool.submit(
            () -> {
              try (JMXConnector c = JMXConnectorFactory.connect(url, Map.of("jmx.remote.x.client.connection.check.period", 0L))) {
                MBeanServerConnection m = c.getMBeanServerConnection();
                Object v = m.getAttribute(BROKER_STATE, "Value");
                return ((Number) v).intValue();
              }
            });
    try {
      return new Result(f.get(timeoutMs, TimeUnit.MILLISECONDS), null);
    } catch (TimeoutException e) {
      f.cancel(true);
      return new Result(null, "no JMX answer within " + timeoutMs + " ms");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      return new Result(null, "JMX: " + c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + firstLine(c.getMessage())));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(null, "interrupted");
    }
  }

  private static String firstLine(String s) {
    int i = s.indexOf('\n');
    return i < 0 ? s : s.substring(0, i);
  }

  public static String stateName(int state) {
    return switch (state) {
      case NOT_RUNNING -> "NOT_RUNNING";
      case STARTING -> "STARTING";
      case RECOVERY -> "RECOVERY";
      case RUNNING -> "RUNNING";
      case PENDING_CONTROLLED_SHUTDOWN -> "PENDING_CONTROLLED_SHUTDOWN";
      case SHUTTING_DOWN -> "SHUTTING_DOWN";
      default -> "STATE_" + state;
    };
  }

  private static ObjectName name(String s) {
    try {
      return new ObjectName(s);
    } catch (javax.management.MalformedObjectNameException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
