package io.kontrol.agent.testing;

import io.etcd.jetcd.Client;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real etcd cluster for tests: {@code n} members of {@code /usr/bin/etcd} (Debian's
 * {@code etcd-server}; {@code ETCD_BIN} overrides) on free loopback ports, each with a temp data
 * dir. Readiness is awaited on each member's {@code /health}, never slept for.
 *
 * <pre>
 * &#64;RegisterExtension
 * static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(3).build();
 * </pre>
 *
 * <p>As a static extension one cluster serves the whole class and is removed after it, whatever
 * happened. Outside JUnit (benchmarks) call {@link #start()} and {@link #close()}.
 *
 * <p>Fault tests: {@link #stop(int)}/{@link #start(int)}, {@link #restart(int)}, {@link
 * #stopAll()}/{@link #startAll()}. Members keep their ports and data across restarts.
 */
public final class EtcdCluster implements BeforeAllCallback, AfterAllCallback, AutoCloseable {

  private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);

  private final int nodes;
  private final String binary;
  private final List<Member> members = new ArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofMillis(500)).build();
  private Path root;
  private Client shared;
  private Thread shutdownHook;

  private EtcdCluster(Builder b) {
    this.nodes = b.nodes;
    this.binary = b.binary;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Builder: {@code withNodes(3)}; the etcd binary defaults to {@code $ETCD_BIN} or /usr/bin/etcd. */
  public static final class Builder {
    private int nodes = 1;
    private String binary =
        System.getenv().getOrDefault("ETCD_BIN", "/usr/bin/etcd");

    public Builder withNodes(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("nodes must be >= 1: " + n);
      }
      this.nodes = n;
      return this;
    }

    public Builder withBinary(String path) {
      this.binary = path;
      return this;
    }

    public EtcdCluster build() {
      return new EtcdCluster(this);
    }
  }

  private static final class Member {
    final String name;
    final int clientPort;
    final int peerPort;
    final Path dataDir;
    final Path log;
    Process process;
    boolean paused;

    Member(String name, int clientPort, int peerPort, Path dataDir, Path log) {
      this.name = name;
      this.clientPort = clientPort;
      this.peerPort = peerPort;
      this.dataDir = dataDir;
      this.log = log;
    }

    String clientUrl() {
      return "http://127.0.0.1:" + clientPort;
    }

    String peerUrl() {
      return "http://127.0.0.1:" + peerPort;
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    start();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    close();
  }

  /** Starts every member and waits until each answers healthy. */
  public synchronized void start() {
    if (root != null) {
      return;
    }
    if (!Files.isExecutable(Path.of(binary))) {
      throw new IllegalStateException(
          "etcd not found at " + binary + " (apt-get install etcd-server, or set ETCD_BIN)");
    }
    try {
      root = Files.createTempDirectory("kontrol-etcd-");
      List<Integer> ports = freePorts(nodes * 2);
      for (int i = 0; i < nodes; i++) {
        String name = "m" + i;
        members.add(
            new Member(
                name,
                ports.get(2 * i),
                ports.get(2 * i + 1),
                root.resolve(name + ".data"),
                root.resolve(name + ".log")));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    shutdownHook = new Thread(this::destroyAll, "etcd-cluster-cleanup");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    String token = "kontrol-test-" + UUID.randomUUID();
    for (Member m : members) {
      launch(m, token);
    }
    for (int i = 0; i < nodes; i++) {
      awaitHealthy(i);
    }
  }

  /** Client URLs of all members, e.g. {@code http://127.0.0.1:41234}. */
  public List<String> endpoints() {
    return members.stream().map(Member::clientUrl).collect(Collectors.toList());
  }

  /** The endpoints as one comma list, the form of {@code KONTROL_ETCD}. */
  public String endpointList() {
    return String.join(",", endpoints());
  }

  /** Client URL of member {@code i}. */
  public String endpoint(int i) {
    return members.get(i).clientUrl();
  }

  public int size() {
    return nodes;
  }

  /** A new jetcd client on all endpoints; the caller closes it. */
  public Client newClient() {
    return Client.builder().endpoints(endpoints().toArray(String[]::new)).build();
  }

  /** One client for the test class, made on first use; closed by {@link #close()}. */
  public synchronized Client client() {
    if (shared == null) {
      shared = newClient();
    }
    return shared;
  }

  /** The log file of member {@code i}, for a failing test's diagnostics. */
  public Path log(int i) {
    return members.get(i).log;
  }

  /** Stops member {@code i} (SIGTERM, then SIGKILL after 10 s); its data is kept. */
  public synchronized void stop(int i) {
    Member m = members.get(i);
    Process p = m.process;
    if (p == null) {
      return;
    }
    p.destroy();
    try {
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    m.process = null;
  }

  /** Kills member {@code i} with SIGKILL. */
  public synchronized void kill(int i) {
    Member m = members.get(i);
    if (m.process != null) {
      m.process.destroyForcibly();
      try {
        m.process.waitFor(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      m.process = null;
    }
  }

  /**
   * Freezes member {@code i} with SIGSTOP: its process and sockets stay, it answers nothing (a
   * hung etcd, as a partition looks to its clients). {@link #resume(int)} thaws it; {@link
   * #close()} does too.
   */
  public synchronized void pause(int i) {
    signal(members.get(i), "STOP");
    members.get(i).paused = true;
  }

  /** Thaws a member frozen by {@link #pause(int)} (SIGCONT). */
  public synchronized void resume(int i) {
    signal(members.get(i), "CONT");
    members.get(i).paused = false;
  }

  private static void signal(Member m, String sig) {
    if (m.process == null) {
      throw new IllegalStateException(m.name + " is not running");
    }
    try {
      Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(m.process.pid())).inheritIO().start();
      if (!k.waitFor(5, TimeUnit.SECONDS) || k.exitValue() != 0) {
        throw new IllegalStateException("kill -" + sig + " " + m.process.pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Starts a stopped member {@code i} again and waits until it is healthy. */
  public synchronized void start(int i) {
    Member m = members.get(i);
    if (m.process == null) {
      launch(m, null);
    }
    awaitHealthy(i);
  }

  public void restart(int i) {
    stop(i);
    start(i);
  }

  public synchronized void stopAll() {
    for (int i = 0; i < nodes; i++) {
      stop(i);
    }
  }

  /** Starts every stopped member, then waits until all are healthy (they need each other). */
  public synchronized void startAll() {
    for (Member m : members) {
      if (m.process == null) {
        launch(m, null);
      }
    }
    for (int i = 0; i < nodes; i++) {
      awaitHealthy(i);
    }
  }

  /**
   * Loses every member's data: all stopped, their data dirs deleted, started again as a new
   * cluster on the same ports (revisions start again at 1), as an etcd rebuilt empty.
   */
  public synchronized void wipe() {
    stopAll();
    for (Member m : members) {
      deleteTree(m.dataDir);
    }
    String token = "kontrol-test-" + UUID.randomUUID();
    for (Member m : members) {
      launch(m, token);
    }
    for (int i = 0; i < nodes; i++) {
      awaitHealthy(i);
    }
  }

  public boolean isRunning(int i) {
    Process p = members.get(i).process;
    return p != null && p.isAlive();
  }

  @Override
  public synchronized void close() {
    for (Member m : members) {
      if (m.paused && m.process != null) {
        resume(members.indexOf(m));
      }
    }
    if (shared != null) {
      shared.close();
      shared = null;
    }
    destroyAll();
    if (shutdownHook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException alreadyShuttingDown) {
        // the hook is running or has run; nothing to remove
      }
      shutdownHook = null;
    }
    if (root != null) {
      deleteTree(root);
      root = null;
    }
    members.clear();
  }

  private void destroyAll() {
    for (Member m : members) {
      Process p = m.process;
      if (p != null) {
        p.destroyForcibly();
      }
    }
    for (Member m : members) {
      Process p = m.process;
      if (p != null) {
        try {
          p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        m.process = null;
      }
    }
  }

  /** Launches a member; {@code token} non-null = first start of a new cluster. */
  private void launch(Member m, String token) {
    String initialCluster =
        members.stream().map(x -> x.name + "=" + x.peerUrl()).collect(Collectors.joining(","));
    List<String> cmd = new ArrayList<>();
    cmd.add(binary);
    cmd.addAll(
        List.of(
            "--name", m.name,
            "--data-dir", m.dataDir.toString(),
            "--listen-client-urls", m.clientUrl(),
            "--advertise-client-urls", m.clientUrl(),
            "--listen-peer-urls", m.peerUrl(),
            "--initial-advertise-peer-urls", m.peerUrl(),
            "--initial-cluster", initialCluster,
            // faster fail-over than the 100 ms / 1 s defaults keeps the fault tests short
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
            "--logger", "zap",
            "--log-level", "warn"));
    if (token != null) {
      cmd.addAll(List.of("--initial-cluster-state", "new", "--initial-cluster-token", token));
    }
    try {
      m.process =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(m.log.toFile()))
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + binary, e);
    }
  }

  private void awaitHealthy(int i) {
    Member m = members.get(i);
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(m.clientUrl() + "/health"))
            .timeout(Duration.ofSeconds(1))
            .build();
    String last = "no answer";
    while (System.nanoTime() < deadline) {
      Process p = m.process;
      if (p == null || !p.isAlive()) {
        throw new IllegalStateException(
            "etcd member " + m.name + " exited; log: " + tail(m.log));
      }
      try {
        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200 && r.body().contains("\"true\"")) {
          return;
        }
        last = r.statusCode() + " " + r.body();
      } catch (IOException e) {
        last = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for etcd", e);
      }
      // poll /health: there is no push notification of readiness; 50 ms keeps start-up quick
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
    }
    throw new IllegalStateException(
        "etcd member " + m.name + " not healthy after " + READY_TIMEOUT + ": " + last);
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  private static List<Integer> freePorts(int n) throws IOException {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        s.setReuseAddress(true);
        sockets.add(s);
      }
      return sockets.stream().map(ServerSocket::getLocalPort).collect(Collectors.toList());
    } finally {
      for (ServerSocket s : sockets) {
        s.close();
      }
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort: temp files
    }
  }

  @Override
  public String toString() {
    return "EtcdCluster" + IntStream.range(0, members.size()).mapToObj(this::endpoint).toList();
  }
}
