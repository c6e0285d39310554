package io.kontrol.agent.metrics;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.distribution.pause.PauseDetector;
import io.micrometer.core.instrument.step.StepMeterRegistry;
import io.micrometer.core.instrument.step.StepRegistryConfig;
import io.micrometer.core.instrument.step.StepTimer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's meters sent to the pod's telegraf in the format of its statsd input, with
 * telegraf's tag syntax ({@code name,tag=value:value|type}; the rendered {@code [[inputs.statsd]]}
 * has no {@code datadog_extensions} and no templates), once per step: counters as the step's
 * count ({@code |c}), gauges as their value ({@code |g}; telegraf keeps it between steps with
 * {@code delete_gauges = false}), and each timer sample in milliseconds ({@code |ms}, telegraf
 * computes the percentiles). Names keep Micrometer's dotted form ({@code kontrol.callback.runs}).
 *
 * <p>A step registry of Micrometer's core over one {@link DatagramChannel}: Micrometer's own statsd
 * registry would bring a shaded Netty and Reactor (6 MB) for this. One daemon thread, {@code
 * kontrol-statsd}, sends; timer samples wait for it in a bounded queue ({@value #MAX_SAMPLES}; more
 * in one step are dropped, the step's count still holds them).
 */
public final class StatsdRegistry extends StepMeterRegistry {
  private static final Logger LOG = LoggerFactory.getLogger(StatsdRegistry.class);
  /** Below the 1,432 bytes that fit one Ethernet frame, as telegraf's docs advise. */
  static final int MAX_DATAGRAM = 1400;

  static final int MAX_SAMPLES = 1000;

  private final InetSocketAddress target;
  private final DatagramChannel channel;
  private final BlockingQueue<String> samples = new ArrayBlockingQueue<>(MAX_SAMPLES);
  private final long stepMillis;
  private volatile boolean warned;

  private StatsdRegistry(StepRegistryConfig config, InetSocketAddress target, DatagramChannel channel) {
    super(config, Clock.SYSTEM);
    this.stepMillis = config.step().toMillis();
    this.target = target;
    this.channel = channel;
  }

  /** Opens the socket and starts sending every {@code step}. */
  public static StatsdRegistry start(InetSocketAddress target, Duration step) throws IOException {
    StepRegistryConfig config =
        new StepRegistryConfig() {
          @Override
          public String prefix() {
            return "kontrol.statsd";
          }

          @Override
          public String get(String key) {
            return null;
          }

          @Override
          public Duration step() {
            return step;
          }
        };
    DatagramChannel channel = DatagramChannel.open();
    try {
      // bound now, on the target's side (loopback): the socket exists from here until close
      channel.bind(new InetSocketAddress(target.getAddress(), 0));
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
    StatsdRegistry r = new StatsdRegistry(config, target, channel);
    r.start(
        task -> {
          Thread t = new Thread(task, "kontrol-statsd");
          t.setDaemon(true);
          return t;
        });
    LOG.info("statsd: sending the agent's meters to {} every {} ms (telegraf's format)", target, step.toMillis());
    return r;
  }

  /** Whether the socket is open (until {@link #close}). */
  public boolean isOpen() {
    return channel.isOpen();
  }

  @Override
  protected TimeUnit getBaseTimeUnit() {
    return TimeUnit.MILLISECONDS;
  }

  @Override
  protected Timer newTimer(Meter.Id id, DistributionStatisticConfig histogram, PauseDetector pause) {
    String prefix = clean(id.getName()) + tags(id.getTagsAsIterable()) + ":";
    return new StepTimer(id, clock, histogram, pause, getBaseTimeUnit(), stepMillis, false) {
      @Override
      protected void recordNonNegative(long amount, TimeUnit unit) {
        super.recordNonNegative(amount, unit);
        samples.offer(prefix + number(unit.toNanos(amount) / 1e6) + "|ms");
      }
    };
  }

  @Override
  protected void publish() {
    List<String> lines = new ArrayList<>();
    for (Meter m : getMeters()) {
      String name = clean(m.getId().getName()) + tags(m.getId().getTagsAsIterable());
      if (m instanceof Counter c) {
        add(lines, name, c.count(), "c");
      } else if (m instanceof FunctionCounter c) {
        add(lines, name, c.count(), "c");
      } else if (m instanceof TimeGauge g) {
        add(lines, name, g.value(TimeUnit.MILLISECONDS), "g");
      } else if (m instanceof Gauge g) {
        add(lines, name, g.value(), "g");
      }
    }
    samples.drainTo(lines);
    send(lines);
  }

  private void send(List<String> lines) {
    StringBuilder packet = new StringBuilder();
    for (String l : lines) {
      if (packet.length() > 0 && packet.length() + 1 + l.length() > MAX_DATAGRAM) {
        write(packet.toString());
        packet.setLength(0);
      }
      packet.append(packet.length() > 0 ? "\n" : "").append(l);
    }
    if (packet.length() > 0) {
      write(packet.toString());
    }
  }

  private void write(String packet) {
    try {
      channel.send(ByteBuffer.wrap(packet.getBytes(StandardCharsets.UTF_8)), target);
    } catch (IOException e) {
      if (!warned) { // telegraf not up yet is normal at boot: say it once
        warned = true;
        LOG.warn("statsd: cannot send to {}: {}", target, e.getMessage());
      }
    }
  }

  private static void add(List<String> lines, String name, double value, String type) {
    if (!Double.isNaN(value) && !Double.isInfinite(value)) {
      lines.add(name + ":" + number(value) + "|" + type);
    }
  }

  static String number(double value) {
    return value == Math.rint(value) && Math.abs(value) < 1e15
        ? Long.toString((long) value)
        : String.format(Locale.ROOT, "%.3f", value);
  }

  private static String tags(Iterable<Tag> tags) {
    StringBuilder sb = new StringBuilder();
    for (Tag t : tags) {
      sb.append(',').append(clean(t.getKey())).append('=').append(clean(t.getValue()));
    }
    return sb.toString();
  }

  /** statsd's and telegraf's separators out of names and tags: {@code : | , = space newline}. */
  static String clean(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (char c : s.toCharArray()) {
      sb.append(c == ':' || c == '|' || c == ',' || c == '=' || c == ' ' || c == '\n' ? '_' : c);
    }
    return sb.toString();
  }

  /** Sends the last step, then closes the socket; bounded by the executor's shutdown. */
  @Override
  public void close() {
    try {
      super.close();
    } finally {
      try {
        channel.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }
}
