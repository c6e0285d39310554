package io.kontrol.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.agent.testing.EtcdCluster;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * statsd for telegraf: a real agent on a real etcd sends its meters in the format of telegraf's
 * statsd input to a UDP listener on loopback when the pod has the opentsdb annotation, and opens no
 * socket at all without it.
 */
@Timeout(120)
class StatsdTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  private static final Duration STEP = Duration.ofMillis(500);
  @TempDir Path dir;

  private Map<String, String> pod(CallbackLog cb, String app, boolean telegraf) {
    Map<String, String> env = cb.into(Pods.env(ETCD, app, app, "s0", "master,slave"));
    env.put("KONTROL_SOCKET", dir.resolve("no-automaton.sock").toString());
    env.put(
        "KONTROL_ANNOTATIONS",
        "{\"kontrol.unity3d.com/master\":\"" + app + "\""
            + (telegraf ? ",\"kontrol.unity3d.com/opentsdb\":\"opentsdb.example:4242\"" : "")
            + "}");
    return env;
  }

  @Test
  void withTheOpentsdbAnnotationTheCallbackCounterArrivesInTelegrafsFormat() throws Exception {
    String app = Pods.app("statsd");
    CallbackLog cb = new CallbackLog(dir);
    try (DatagramChannel listener = listener()) {
      int before = udpSockets();
      try (Observed pod = Observed.start(pod(cb, app, true), (InetSocketAddress) listener.getLocalAddress(), STEP)) {
        assertThat(pod.observe.statsd()).isPresent();
        assertThat(udpSockets()).as("the agent's one UDP socket").isEqualTo(before + 1);
        // the runs of one step arrive as one count (the leader may run on its empty group, then on
        // itself, within a step)
        Pattern counter = Pattern.compile(Pattern.quote("kontrol.callback.runs,group=default/" + app + ",result=ok:") + "[1-9][0-9]*\\|c");
        List<String> seen = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).until(() -> {
          seen.addAll(receive(listener, Duration.ofSeconds(1)));
          return seen.stream().anyMatch(l -> counter.matcher(l).matches());
        });
        // every line is name[,tag=value...]:value|c|g|ms, as telegraf's statsd input parses it
        Pattern line = Pattern.compile("[a-z][a-z.]*(,[A-Za-z_]+=[^,:|=\\s]+)*:-?[0-9]+(\\.[0-9]+)?\\|(c|g|ms)");
        assertThat(seen).allSatisfy(l -> assertThat(l).matches(line));
        assertThat(seen).contains("kontrol.leader,group=default/" + app + ":1|g", "kontrol.etcd.connected:1|g");
        assertThat(seen).anyMatch(l -> l.startsWith("kontrol.callback.duration,group=default/" + app + ":") && l.endsWith("|ms"));
      }
      assertThat(udpSockets()).as("the socket is closed with the agent").isEqualTo(before);
    }
  }

  @Test
  void withoutItNoSocketIsOpenAndNoDatagramArrives() throws Exception {
    String app = Pods.app("nostatsd");
    CallbackLog cb = new CallbackLog(dir);
    try (DatagramChannel listener = listener()) {
      int before = udpSockets();
      try (Observed pod = Observed.start(pod(cb, app, false), (InetSocketAddress) listener.getLocalAddress(), STEP)) {
        await().atMost(Duration.ofSeconds(20)).until(() -> pod.value("kontrol_callback_runs_total", Map.of("group", "default/" + app, "result", "ok")) >= 1);
        assertThat(pod.observe.statsd()).isEmpty();
        assertThat(udpSockets()).as("UDP sockets of this process").isEqualTo(before);
        // four steps: an agent that sent would have sent by now
        assertThat(receive(listener, STEP.multipliedBy(4))).isEmpty();
      }
    }
  }

  private static DatagramChannel listener() throws IOException {
    DatagramChannel c = DatagramChannel.open();
    c.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    c.socket().setSoTimeout(100);
    return c;
  }

  /** The statsd lines that arrive within {@code window}. */
  private static List<String> receive(DatagramChannel c, Duration window) throws IOException {
    List<String> lines = new ArrayList<>();
    long end = System.nanoTime() + window.toNanos();
    byte[] buf = new byte[65536];
    java.net.DatagramPacket p = new java.net.DatagramPacket(buf, buf.length);
    while (System.nanoTime() < end) {
      try {
        c.socket().receive(p);
        lines.addAll(List.of(new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8).split("\n")));
      } catch (SocketTimeoutException e) {
        // nothing yet
      }
    }
    return lines;
  }

  /** UDP sockets this process holds: its file descriptors that are sockets in /proc/net/udp{,6}. */
  static int udpSockets() throws IOException {
    Set<String> udp = new HashSet<>();
    for (String f : List.of("/proc/self/net/udp", "/proc/self/net/udp6")) {
      Path p = Path.of(f);
      if (Files.exists(p)) {
        for (String l : Files.readAllLines(p).subList(1, Files.readAllLines(p).size())) {
          String[] cols = l.trim().split("\\s+");
          udp.add(cols[9]);
        }
      }
    }
    int n = 0;
    Pattern socket = Pattern.compile("socket:\\[(\\d+)]");
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
      for (Path fd : fds) {
        try {
          Matcher m = socket.matcher(Files.readSymbolicLink(fd).toString());
          if (m.matches() && udp.contains(m.group(1))) {
            n++;
          }
        } catch (IOException e) {
          // closed while listing
        }
      }
    }
    return n;
  }
}
