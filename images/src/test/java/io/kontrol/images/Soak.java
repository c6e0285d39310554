package io.kontrol.images;

import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * The chaos soak: a NATS ensemble of 4 kontrol/nats pods on a 3-member etcd (the etcd image's
 * {@code etcd-cluster} entrypoint), on a Docker network, under random faults one after another —
 * {@code docker kill} and {@code docker stop}/{@code start} of a pod, a pod's network cut and
 * healed, an etcd member restarted or killed — for {@code --duration}. The invariants are checked
 * the whole time ({@link SoakInvariants}); after the chaos every broker must route to exactly the
 * others within TTL + damper + 10 s. Prints a table of the faults injected and the invariants
 * held; exit 0 when all held.
 *
 * <pre>
 * scripts/soak [--duration 30m] [--seed N] [--tag T] [--control]
 * </pre>
 *
 * {@code --control} also checks that the checker can fail: at the end it writes a state as no
 * leader would and a record with a seq another pod has, and expects both reported.
 */
final class Soak {
  static final String GROUP = "/kontrol/default/nats";
  static final int PODS = 4;
  static final int MEMBERS = 3;

  enum Fault {
    POD_KILL("docker kill a pod, start it again"),
    POD_STOP("docker stop a pod, start it again"),
    POD_CUT("a pod's network cut for 2-3 x TTL, healed"),
    ETCD_RESTART("docker restart an etcd member"),
    ETCD_KILL("docker kill an etcd member, start it again");

    final String what;

    Fault(String what) {
      this.what = what;
    }
  }

  record Options(Duration duration, long seed, boolean control) {}

  /** What a soak found. */
  record Report(Map<Fault, Integer> faults, Map<String, Integer> checks, List<SoakInvariants.Violation> violations,
      Duration converged, List<SoakInvariants.Violation> controlDetected) {
    boolean held() {
      return violations.isEmpty();
    }

    String table() {
      StringBuilder sb = new StringBuilder();
      sb.append("| fault | injected |\n|---|---|\n");
      faults.forEach((f, n) -> sb.append("| ").append(f.what).append(" | ").append(n).append(" |\n"));
      sb.append("\n| invariant | checked | violations |\n|---|---|---|\n");
      checks.forEach((inv, n) -> sb.append("| ").append(inv).append(" | ").append(n).append(" | ")
          .append(violations.stream().filter(v -> v.invariant().equals(inv)).count()).append(" |\n"));
      sb.append("\nconverged after the chaos in ").append(converged == null ? "NOT within the bound" : converged.toMillis() + " ms")
          .append('\n');
      violations.forEach(v -> sb.append("VIOLATION ").append(v).append('\n'));
      if (controlDetected != null) {
        sb.append("control: ").append(controlDetected.size()).append(" planted violation(s) detected\n");
        controlDetected.forEach(v -> sb.append("  detected ").append(v).append('\n'));
      }
      return sb.toString();
    }
  }

  private final Options options;
  private final Random random;
  private final Network network;
  private final List<GenericContainer<?>> etcd = new ArrayList<>();
  private final List<NatsPod> pods = new ArrayList<>();
  /** When each pod was killed or stopped by the soak: the end of any callback run it had open. */
  private final Map<String, List<Instant>> deaths = new ConcurrentHashMap<>();
  private final Map<Fault, Integer> injected = new EnumMap<>(Fault.class);
  private final List<SoakInvariants.Violation> violations = new CopyOnWriteArrayList<>();
  private final List<SoakInvariants.StateWrite> stateWrites = new CopyOnWriteArrayList<>();
  private final AtomicInteger seqReads = new AtomicInteger();
  private Client client;

  private Soak(Options options) {
    this.options = options;
    this.random = new Random(options.seed());
    this.network = DockerNetworks.withOwnSubnet();
    for (Fault f : Fault.values()) {
      injected.put(f, 0);
    }
  }

  static Report run(Options options) throws Exception {
    LocalImages.require(LocalImages.NATS, LocalImages.ETCD);
    Soak soak = new Soak(options);
    try {
      return soak.soak();
    } finally {
      soak.close();
    }
  }

  private static String member(int i) {
    return "etcd-" + i + ".etcd.default.svc.cluster.local";
  }

  @SuppressWarnings("resource")
  private Report soak() throws Exception {
    for (int i = 0; i < MEMBERS; i++) {
      etcd.add(new GenericContainer<>(LocalImages.ETCD)
          .withNetwork(network)
          .withNetworkAliases(member(i))
          .withCreateContainerCmdModifier(cmd -> cmd.withName("kontrol-soak-etcd-" + System.nanoTime())
              .withEntrypoint("/usr/local/bin/etcd-cluster"))
          .withEnv(Map.of("POD_NAME", "etcd-" + i, "CLUSTER_SERVICE", "etcd", "CLUSTER_SIZE", String.valueOf(MEMBERS)))
          .waitingFor(Wait.forLogMessage(".*ready to serve client requests.*", 1))
          .withStartupTimeout(Duration.ofSeconds(90)));
    }
    etcd.parallelStream().forEach(GenericContainer::start);
    String endpoints = String.join(",", java.util.stream.IntStream.range(0, MEMBERS).mapToObj(i -> member(i) + ":2379").toList());
    for (int i = 0; i < PODS; i++) {
      pods.add(new NatsPod("soak-" + i, network, endpoints));
    }
    pods.parallelStream().forEach(NatsPod::start);
    pods.forEach(p -> p.reachVia(p.ip()));
    client = Client.builder().endpoints(etcd.stream()
        .map(e -> "http://" + DockerNetworks.ip(e.getContainerId(), network) + ":2379").toArray(String[]::new)).build();
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500)).until(() -> NatsPod.meshed(pods));
    log("formed: 4 brokers meshed on a 3-member etcd; chaos for " + options.duration().toSeconds() + " s, seed " + options.seed());

    Watch.Watcher stateWatch = watchState();
    ScheduledExecutorService checker = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "soak-seq-check"));
    checker.scheduleWithFixedDelay(this::checkSeqs, 0, 500, TimeUnit.MILLISECONDS);
    try {
      long end = System.nanoTime() + options.duration().toNanos();
      while (System.nanoTime() < end) {
        Fault f = Fault.values()[random.nextInt(Fault.values().length)];
        inject(f);
        injected.merge(f, 1, Integer::sum);
        pause(3 + random.nextInt(6));
      }
      // the chaos stops: everything is up and connected again (inject heals as it goes)
      long stopped = System.nanoTime();
      Duration bound = Duration.ofSeconds(NatsPod.TTL + NatsPod.DAMPER + 10);
      Duration converged = null;
      try {
        await().atMost(bound).pollInterval(Duration.ofMillis(250)).until(() -> NatsPod.meshed(pods));
        converged = Duration.ofNanos(System.nanoTime() - stopped);
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        violations.add(new SoakInvariants.Violation(SoakInvariants.CONVERGED, Instant.now(),
            pods.stream().map(p -> p.name + " routes " + p.routes() + " (others " + p.others(pods) + ")").toList().toString()));
      }
      // the last state writes' end lines are in the logs by now
      pause(2);
      List<SoakInvariants.Violation> control = null;
      Map<String, List<SoakInvariants.Line>> lines = lines();
      violations.addAll(check(lines, stateWrites));
      Map<String, Integer> checks = new LinkedHashMap<>();
      checks.put(SoakInvariants.ONE_LEADER, lines.values().stream().mapToInt(l -> (int) l.stream().filter(SoakInvariants.Line::start).count()).sum());
      checks.put(SoakInvariants.STATE_BY_LEADER, stateWrites.size());
      checks.put(SoakInvariants.UNIQUE_SEQ, seqReads.get());
      checks.put(SoakInvariants.CONVERGED, 1);
      if (options.control()) {
        control = plantViolations(lines);
      }
      return new Report(injected, checks, List.copyOf(violations), converged, control);
    } finally {
      checker.shutdownNow();
      stateWatch.close();
    }
  }

  /** One fault, then its heal; returns once the faulted piece runs again. */
  private void inject(Fault f) throws Exception {
    int ttl = NatsPod.TTL;
    switch (f) {
      case POD_KILL, POD_STOP -> {
        NatsPod p = pods.get(random.nextInt(PODS));
        log(f + " " + p.name);
        deaths.computeIfAbsent(p.name, k -> new CopyOnWriteArrayList<>()).add(Instant.now());
        if (f == Fault.POD_KILL) {
          p.kill();
        } else {
          p.stop();
        }
        pause(2 + random.nextInt(6));
        DockerNetworks.docker().startContainerCmd(p.containerId()).exec();
        p.refreshIp(network).reachVia(p.ip());
      }
      case POD_CUT -> {
        NatsPod p = pods.get(random.nextInt(PODS));
        String ip = p.ip();
        log(f + " " + p.name + " (" + ip + ")");
        DockerNetworks.cut(p.containerId(), network);
        pause(2 * ttl + random.nextInt(ttl + 1));
        DockerNetworks.connect(p.containerId(), network, ip, List.of());
      }
      case ETCD_RESTART -> {
        int i = random.nextInt(MEMBERS);
        log(f + " etcd-" + i);
        DockerNetworks.docker().restartContainerCmd(etcd.get(i).getContainerId()).withTimeout(10).exec();
        reconnectEtcd(i);
      }
      case ETCD_KILL -> {
        int i = random.nextInt(MEMBERS);
        log(f + " etcd-" + i);
        DockerNetworks.docker().killContainerCmd(etcd.get(i).getContainerId()).exec();
        pause(2 + random.nextInt(6));
        DockerNetworks.docker().startContainerCmd(etcd.get(i).getContainerId()).exec();
        reconnectEtcd(i);
      }
      default -> throw new IllegalStateException(f.toString());
    }
  }

  /** A restarted member may come back with another IP: the agents find it by name, the soak's client by the others. */
  private void reconnectEtcd(int i) {
    log("etcd-" + i + " runs again at " + DockerNetworks.ip(etcd.get(i).getContainerId(), network));
  }

  /** Every state write, with the leader of the group at that very revision. */
  private Watch.Watcher watchState() {
    ByteSequence key = bytes(GROUP + "/state");
    return client.getWatchClient().watch(key, WatchOption.builder().withNoDelete(true).build(), resp -> {
      for (WatchEvent ev : resp.getEvents()) {
        long rev = ev.getKeyValue().getModRevision();
        stateWrites.add(new SoakInvariants.StateWrite(rev, Instant.now(), leaderAt(rev),
            ev.getKeyValue().getValue().toString(StandardCharsets.UTF_8)));
      }
    });
  }

  /** The pod that led the group at {@code revision} (its leader key with the lowest create revision). */
  private String leaderAt(long revision) {
    try {
      List<KeyValue> kvs = client.getKVClient().get(bytes(GROUP + "/leader/"),
          GetOption.builder().isPrefix(true).withRevision(revision).build()).get(10, TimeUnit.SECONDS).getKvs();
      return kvs.stream().min(Comparator.comparingLong(KeyValue::getCreateRevision))
          .map(kv -> kv.getValue().toString(StandardCharsets.UTF_8)).orElse(null);
    } catch (Exception e) {
      return "?unknown (" + e.getMessage() + ")";
    }
  }

  private static final Pattern SEQ = Pattern.compile("\"seq\":(\\d+)");

  private void checkSeqs() {
    try {
      Map<String, Long> seqs = new LinkedHashMap<>();
      for (KeyValue kv : client.getKVClient().get(bytes(GROUP + "/pods/"), GetOption.builder().isPrefix(true).build())
          .get(3, TimeUnit.SECONDS).getKvs()) {
        Matcher m = SEQ.matcher(kv.getValue().toString(StandardCharsets.UTF_8));
        if (m.find()) {
          seqs.put(kv.getKey().toString(StandardCharsets.UTF_8).substring((GROUP + "/pods/").length()), Long.parseLong(m.group(1)));
        }
      }
      seqReads.incrementAndGet();
      SoakInvariants.seqs(Instant.now(), seqs).ifPresent(v -> {
        if (violations.stream().noneMatch(o -> o.detail().equals(v.detail()))) {
          violations.add(v);
        }
      });
    } catch (Exception e) {
      // etcd (its member the client talks to) is being faulted: the next read counts
    }
  }

  /** The callback lines of every pod's log, all its runs (docker keeps the logs across restarts). */
  private Map<String, List<SoakInvariants.Line>> lines() {
    Map<String, List<SoakInvariants.Line>> out = new LinkedHashMap<>();
    for (NatsPod p : pods) {
      out.put(p.name, SoakInvariants.callbackLines(p.logs()));
    }
    return out;
  }

  private List<SoakInvariants.Violation> check(Map<String, List<SoakInvariants.Line>> lines, List<SoakInvariants.StateWrite> writes) {
    List<SoakInvariants.Run> runs = new ArrayList<>();
    Instant now = Instant.now();
    lines.forEach((pod, l) -> runs.addAll(SoakInvariants.runs(l, deaths.getOrDefault(pod, List.of()), now)));
    List<SoakInvariants.Violation> out = new ArrayList<>(SoakInvariants.overlaps(runs));
    out.addAll(SoakInvariants.stateWrites(writes, lines, 3_000));
    return out;
  }

  /**
   * The control: a state written from outside (no leader's run) and a record with a live pod's
   * seq; the checker must report both.
   */
  private List<SoakInvariants.Violation> plantViolations(Map<String, List<SoakInvariants.Line>> lines) throws Exception {
    int before = stateWrites.size();
    client.getKVClient().put(bytes(GROUP + "/state"), bytes("{\"planted\":true}")).get(5, TimeUnit.SECONDS);
    long lease = client.getLeaseClient().grant(60).get(5, TimeUnit.SECONDS).getID();
    String victim = pods.get(0).name;
    long seq = -1;
    for (KeyValue kv : client.getKVClient().get(bytes(GROUP + "/pods/" + victim)).get(5, TimeUnit.SECONDS).getKvs()) {
      Matcher m = SEQ.matcher(kv.getValue().toString(StandardCharsets.UTF_8));
      seq = m.find() ? Long.parseLong(m.group(1)) : -1;
    }
    client.getKVClient().put(bytes(GROUP + "/pods/planted"), bytes("{\"id\":\"planted\",\"seq\":" + seq + "}"),
        PutOption.builder().withLeaseId(lease).build()).get(5, TimeUnit.SECONDS);
    int reads = seqReads.get();
    await().atMost(Duration.ofSeconds(10)).until(() -> stateWrites.size() > before && seqReads.get() > reads + 1);
    List<SoakInvariants.Violation> found = new ArrayList<>(check(lines, stateWrites.subList(before, stateWrites.size())));
    violations.stream().filter(v -> v.invariant().equals(SoakInvariants.UNIQUE_SEQ) && v.detail().contains("planted"))
        .forEach(found::add);
    violations.removeIf(v -> v.detail().contains("planted"));
    client.getLeaseClient().revoke(lease).get(5, TimeUnit.SECONDS);
    return found;
  }

  private void close() {
    if (client != null) {
      client.close();
    }
    Path logs = Path.of(System.getProperty("kontrol.images.logs", "target/pod-logs"), "soak");
    for (NatsPod p : pods) {
      p.saveLogs(logs);
      try {
        p.close();
      } catch (RuntimeException e) {
        // already gone
      }
    }
    for (GenericContainer<?> e : etcd) {
      try {
        e.stop();
      } catch (RuntimeException gone) {
        // already gone
      }
    }
    network.close();
  }

  private static void pause(int seconds) {
    // the fault's own duration: nothing to wait for but time
    await().pollDelay(Duration.ofSeconds(seconds)).atMost(Duration.ofSeconds(seconds + 5)).until(() -> true);
  }

  private static void log(String s) {
    System.out.printf("soak %s %s%n", Instant.now(), s);
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  /** {@code scripts/soak}: {@code --duration 30m|90s}, {@code --seed N}, {@code --control}, {@code --report FILE}. */
  public static void main(String[] args) throws Exception {
    Duration duration = Duration.ofMinutes(30);
    long seed = System.nanoTime();
    boolean control = false;
    Path report = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--duration" -> {
          try {
            duration = parseDuration(args[++i]);
          } catch (IllegalArgumentException e) {
            System.err.println("soak: " + e.getMessage());
            System.exit(2);
          }
        }
        case "--seed" -> seed = Long.parseLong(args[++i]);
        case "--control" -> control = true;
        case "--report" -> report = Path.of(args[++i]);
        default -> {
          System.err.println("soak: unknown argument " + args[i] + " (expected --duration D, --seed N, --control, --report FILE)");
          System.exit(2);
        }
      }
    }
    Report r = run(new Options(duration, seed, control));
    String table = r.table();
    System.out.println(table);
    if (report != null) {
      Files.writeString(report, table);
    }
    boolean controlOk = !control || (r.controlDetected() != null && r.controlDetected().size() >= 2);
    System.exit(r.held() && controlOk ? 0 : 1);
  }

  /** {@code 30m}, {@code 90s}, {@code 2h}, or seconds. */
  static Duration parseDuration(String s) {
    try {
      char unit = s.charAt(s.length() - 1);
      String n = Character.isDigit(unit) ? s : s.substring(0, s.length() - 1);
      long v = Long.parseLong(n);
      return switch (unit) {
        case 'h' -> Duration.ofHours(v);
        case 'm' -> Duration.ofMinutes(v);
        default -> Duration.ofSeconds(v);
      };
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("--duration: expected e.g. 30m, 90s or 2h, not '" + s + "'");
    }
  }
}
