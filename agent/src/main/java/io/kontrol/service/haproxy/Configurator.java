package io.kontrol.service.haproxy;

import io.kontrol.agent.render.AtomicFile;
import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import io.kontrol.agent.render.RenderException;
import io.kontrol.agent.render.TemplateRenderer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Applies one {@code hosts} map to the pod's HAProxy: render the operator's template, compare,
 * check, then change the running proxy the cheapest safe way, and confirm it.
 *
 * <ol>
 *   <li>render the template ({@code haproxy.unity3d.com/config}) with {@code hosts} and {@code
 *       env}; the file always ends with a newline (Jinja2 drops a template's last one, HAProxy
 *       2.6 refuses a last line without);
 *   <li>the same text as the running file: nothing to do ({@code noop});
 *   <li>{@code haproxy -c} on the candidate plus the image's own file, before anything changes;
 *   <li>only server addresses or {@code disabled} flags differ ({@link ServerChanges}): the
 *       runtime API applies them and the file is replaced, no reload;
 *   <li>otherwise the file is replaced and the master reloads ({@code reload} on its CLI; 2.6
 *       answers nothing, so {@code show proc} is polled until the reload count moved: a new
 *       worker means success, {@code failed > 0} a refused configuration, whose reason is in
 *       HAProxy's log); a failed reload puts the last good file back, the old workers kept
 *       serving throughout.
 * </ol>
 *
 * <p>HAProxy not running yet (the pod's first configure): the file is written and it is started;
 * when the new configuration cannot start, the last good one (or none: only the image's own
 * listener) is started instead. Whatever fails, HAProxy keeps or gets a configuration it runs.
 *
 * <p>One configure at a time per pod: the automaton runs one state at a time, and a file lock
 * guards against a second caller.
 */
public final class Configurator {

  /** The pod annotation holding the operator's template. */
  public static final String ANNOTATION = "haproxy.unity3d.com/config";

  /** The operator file HAProxy runs when there is no good one (the image's own listener only). */
  static final String EMPTY = "# no operator configuration applied yet: only the image's own listener runs\n";

  private static final Duration CLI_TIMEOUT = Duration.ofSeconds(5);
  private static final long POLL_MILLIS = 50;
  private static final int MAX_MESSAGE = 2000;

  /**
   * Where things are.
   *
   * @param live the operator file HAProxy runs ({@code -f}, first)
   * @param base the image's own file ({@code -f}, after the operator's), only read
   * @param log HAProxy's output (supervisord's {@code stdout_logfile}), read for reload errors
   */
  public record Settings(Path live, Path base, Path log, String haproxy, Duration checkTimeout, Duration reloadTimeout) {
    Path lastGood() {
      return live.resolveSibling("last-good.cfg");
    }

    Path candidate() {
      return live.resolveSibling("candidate.cfg");
    }

    Path lock() {
      return live.resolveSibling(".configure.lock");
    }
  }

  /** Starts HAProxy when it is not running: {@code supervisorctl start haproxy} in the image. */
  @FunctionalInterface
  public interface Starter {
    /** @throws IOException when it did not start */
    void start() throws IOException;
  }

  private final Settings settings;
  private final MasterCli cli;
  private final Starter starter;
  private final Consumer<String> log;

  public Configurator(Settings settings, MasterCli cli, Starter starter, Consumer<String> log) {
    this.settings = settings;
    this.cli = cli;
    this.starter = starter;
    this.log = log;
  }

  /** A failure of one stage. */
  private static final class Failed extends Exception {
    private static final long serialVersionUID = 1L;
    final String stage;
    final String mode;

    Failed(String stage, String mode, String message) {
      super(message);
      this.stage = stage;
      this.mode = mode;
    }
  }

  /**
   * Configures HAProxy for {@code hosts}.
   *
   * @param hosts app to IPs, canonical ({@link Hosts#canonical})
   * @param template the operator's template, empty when the pod has none
   * @param env the template's {@code env}
   */
  public Outcome configure(Map<String, List<String>> hosts, Optional<String> template, Map<String, String> env)
      throws IOException {
    long t0 = System.nanoTime();
    Files.createDirectories(settings.live().getParent());
    try (FileChannel channel =
            FileChannel.open(settings.lock(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.lock()) {
      String hostsMd5 = Hosts.md5(hosts);
      String mode = "render";
      try {
        String candidate = render(hosts, template, env);
        Optional<ProcList> running = proc();
        String live = read(settings.live());
        if (running.isPresent() && candidate.equals(live)) {
          return outcome(true, null, "the rendering equals the running configuration", "noop", hostsMd5, t0);
        }
        check(candidate);
        if (running.isEmpty()) {
          mode = "start";
          start(candidate);
          return outcome(true, null, "HAProxy started", "start", hostsMd5, t0);
        }
        Optional<List<ServerChanges.Change>> changes =
            live == null ? Optional.empty() : ServerChanges.between(live, candidate);
        if (changes.isPresent()) {
          Optional<String> applied = applyAtRuntime(changes.get(), candidate);
          if (applied.isPresent()) {
            return outcome(true, null, applied.get(), "runtime", hostsMd5, t0);
          }
        }
        mode = "reload";
        long confirmedMs = reload(candidate, running.get(), live);
        return outcome(true, null, "reloaded, confirmed by show proc " + confirmedMs + " ms after the reload command", "reload", hostsMd5, t0);
      } catch (Failed f) {
        if (!"reload".equals(f.stage) && !"start".equals(mode)) {
          keepRunning();
        }
        return outcome(false, f.stage, f.getMessage(), f.mode != null ? f.mode : mode, hostsMd5, t0);
      }
    }
  }

  private String render(Map<String, List<String>> hosts, Optional<String> template, Map<String, String> env) throws Failed {
    if (template.isEmpty() || template.get().isBlank()) {
      throw new Failed(
          "render",
          "render",
          "the pod has no annotation " + ANNOTATION + " (the HAProxy configuration template):"
              + " only the image's own listener on 8404 runs");
    }
    try {
      return render(template.get(), hosts, env);
    } catch (RenderException e) {
      throw new Failed("render", "render", "annotation " + ANNOTATION + ": " + e.getMessage());
    }
  }

  /** The configuration file for {@code hosts}: the template rendered, ending with a newline. */
  static String render(String template, Map<String, List<String>> hosts, Map<String, String> env) throws RenderException {
    Map<String, Object> variables = new LinkedHashMap<>();
    variables.put("env", env);
    variables.put("hosts", hosts);
    String text = TemplateRenderer.strict().render(template, variables);
    // Jinja2 drops a template's last newline; HAProxy 2.6 refuses a last line without one
    return text.endsWith("\n") ? text : text + "\n";
  }

  /** {@code haproxy -c} on the candidate followed by the image's file, as HAProxy will load them. */
  private void check(String candidate) throws IOException, Failed {
    Path file = settings.candidate();
    AtomicFile.write(file, candidate);
    ShellCommand.Result r;
    try {
      r = ShellCommand.of("exec \"$0\" -c -f \"$1\" -f \"$2\"")
          .args(settings.haproxy(), file.toString(), settings.base().toString())
          .mergeOutput()
          .run(settings.checkTimeout(), Capture.tail(64 * 1024), Capture.none());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while checking the configuration", e);
    }
    if (r.timedOut()) {
      throw new Failed("check", "check", "haproxy -c did not finish within " + settings.checkTimeout().toSeconds() + " s");
    }
    if (r.exitCode() != 0) {
      throw new Failed("check", "check", "haproxy -c refused the rendered configuration (exit " + r.exitCode() + "): " + alerts(r.stdout().text()));
    }
  }

  /** Writes the live file and starts HAProxy; if it does not come up, starts the last good one. */
  private void start(String candidate) throws IOException, Failed {
    AtomicFile.write(settings.live(), candidate);
    long offset = size(settings.log());
    String problem = startAndAwait();
    if (problem == null) {
      AtomicFile.write(settings.lastGood(), candidate);
      return;
    }
    String reason = alerts(logSince(offset));
    String fallback = Optional.ofNullable(read(settings.lastGood())).filter(s -> !s.equals(candidate)).orElse(EMPTY);
    AtomicFile.write(settings.live(), fallback);
    String second = startAndAwait();
    throw new Failed(
        "reload",
        "start",
        "HAProxy did not start with the new configuration (" + problem + "): " + reason
            + (second == null ? "; running the last good configuration instead" : "; nor with the last good one: " + second));
  }

  /** After a render or check failure: HAProxy must run something, even on the pod's first configure. */
  private void keepRunning() throws IOException {
    if (proc().isPresent()) {
      return;
    }
    String live = read(settings.live());
    if (live == null) {
      AtomicFile.write(settings.live(), EMPTY);
    }
    String problem = startAndAwait();
    if (problem != null && live != null && !live.equals(EMPTY)) {
      AtomicFile.write(settings.live(), EMPTY);
      problem = startAndAwait();
    }
    if (problem != null) {
      log.accept("configure: HAProxy does not start even with only the image's own listener: " + problem);
    }
  }

  /** @return null when a worker runs, else why not */
  private String startAndAwait() {
    try {
      starter.start();
    } catch (IOException e) {
      return e.getMessage();
    }
    long deadline = System.nanoTime() + settings.reloadTimeout().toNanos();
    while (System.nanoTime() < deadline) {
      Optional<ProcList> p = proc();
      if (p.isPresent() && p.get().newest().isPresent()) {
        return null;
      }
      pause();
    }
    return "no worker within " + settings.reloadTimeout().toSeconds() + " s";
  }

  /**
   * @return what was done, or empty when the runtime API refused something (a reload follows, and
   *     puts every server where the file says)
   */
  private Optional<String> applyAtRuntime(List<ServerChanges.Change> changes, String candidate) throws IOException {
    int commands = 0;
    for (ServerChanges.Change change : changes) {
      for (String command : change.commands()) {
        String reply;
        try {
          reply = cli.worker(command, CLI_TIMEOUT).strip();
        } catch (IOException e) {
          log.accept("configure: runtime API unreachable (" + e.getMessage() + "): reloading instead");
          return Optional.empty();
        }
        commands++;
        boolean accepted =
            command.contains(" addr ")
                ? reply.contains("changed from") || reply.startsWith("no need to change")
                : reply.isEmpty();
        if (!accepted) {
          log.accept("configure: runtime API refused '" + command + "' (" + reply + "): reloading instead");
          return Optional.empty();
        }
      }
    }
    for (ServerChanges.Change change : changes) {
      String state = cli.worker("show servers state " + change.backend(), CLI_TIMEOUT);
      if (!matches(state, change)) {
        log.accept("configure: " + change.backend() + "/" + change.server() + " is not as applied: reloading instead");
        return Optional.empty();
      }
    }
    // the file follows, so a later reload or restart reproduces the same servers
    AtomicFile.write(settings.live(), candidate);
    return Optional.of(changes.size() + " server(s) changed through the runtime API (" + commands + " command(s)), no reload");
  }

  /** Whether {@code show servers state} lists the server with its new address and admin state. */
  private static boolean matches(String state, ServerChanges.Change change) {
    for (String line : state.split("\n")) {
      String[] f = line.strip().split("\\s+");
      // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_port (19th)
      if (f.length > 18 && f[3].equals(change.server())) {
        int admin = Integer.parseInt(f[6]);
        boolean maint = (admin & 0x03) != 0; // forced or inherited maintenance
        return f[4].equals(change.host())
            && (change.port().isEmpty() || f[18].equals(change.port()))
            && maint != change.enabled();
      }
    }
    return false;
  }

  /** @return milliseconds from the reload command to the new worker seen in {@code show proc} */
  private long reload(String candidate, ProcList before, String live) throws IOException, Failed {
    String previous = live == null ? EMPTY : live;
    AtomicFile.write(settings.lastGood(), previous);
    long offset = size(settings.log());
    AtomicFile.write(settings.live(), candidate);
    long oldWorker = before.newest().map(ProcList.Worker::pid).orElse(-1L);
    long sent = System.nanoTime();
    try {
      // 2.6 answers nothing and drops the connection while the master re-executes
      cli.send("reload", CLI_TIMEOUT);
    } catch (IOException e) {
      AtomicFile.write(settings.live(), previous);
      throw new Failed("reload", "reload", "the master CLI did not take 'reload': " + e.getMessage());
    }
    long deadline = System.nanoTime() + settings.reloadTimeout().toNanos();
    while (System.nanoTime() < deadline) {
      Optional<ProcList> p = proc();
      if (p.isPresent() && p.get().reloads() > before.reloads()) {
        if (p.get().failed() > 0) {
          AtomicFile.write(settings.live(), previous);
          throw new Failed(
              "reload",
              "reload",
              "HAProxy refused the new configuration at reload, the previous one keeps running: "
                  + alerts(logSince(offset)));
        }
        Optional<ProcList.Worker> newest = p.get().newest();
        if (newest.isPresent() && newest.get().pid() != oldWorker) {
          return (System.nanoTime() - sent) / 1_000_000;
        }
      }
      pause();
    }
    AtomicFile.write(settings.live(), previous);
    throw new Failed("reload", "reload", "no new worker within " + settings.reloadTimeout().toSeconds() + " s of the reload");
  }

  private Outcome outcome(boolean ok, String stage, String message, String mode, String hostsMd5, long t0) throws IOException {
    // right after a reload the master may still be re-executing (twice after a failed one)
    Optional<ProcList> p = proc();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    while (p.isEmpty() && !"render".equals(mode) && !"check".equals(mode) && System.nanoTime() < deadline) {
      pause();
      p = proc();
    }
    String live = read(settings.live());
    return new Outcome(
        ok,
        stage,
        message.length() > MAX_MESSAGE ? message.substring(0, MAX_MESSAGE) + "..." : message,
        mode,
        p.map(ProcList::reloads).orElse(-1),
        p.map(ProcList::failed).orElse(0),
        p.map(ProcList::masterPid).orElse(-1L),
        p.flatMap(ProcList::newest).map(ProcList.Worker::pid).orElse(-1L),
        p.map(x -> x.oldWorkers().size()).orElse(0),
        live == null ? "" : sha256(live),
        hostsMd5,
        (System.nanoTime() - t0) / 1_000_000,
        Instant.now());
  }

  private Optional<ProcList> proc() {
    try {
      return Optional.of(cli.showProc(CLI_TIMEOUT));
    } catch (IOException | IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** The {@code [ALERT]} lines of HAProxy's output (with their continuation lines), else its tail. */
  static String alerts(String output) {
    List<String> lines = new ArrayList<>();
    boolean inAlert = false;
    for (String line : output.split("\n")) {
      if (line.startsWith("[ALERT]")) {
        inAlert = true;
        lines.add(line.replaceFirst("^\\[ALERT\\]\\s+\\(\\d+\\)\\s*:\\s*", "").strip());
      } else if (inAlert && line.startsWith("   |")) {
        lines.add(line.substring(4).strip());
      } else {
        inAlert = false;
      }
    }
    if (lines.isEmpty()) {
      String text = output.strip();
      return text.isEmpty() ? "(HAProxy printed nothing)" : text.substring(Math.max(0, text.length() - 500));
    }
    return String.join(" | ", lines);
  }

  private static void pause() {
    try {
      Thread.sleep(POLL_MILLIS); // polling HAProxy's show proc, which has no change notification
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String read(Path file) throws IOException {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  private static long size(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return 0;
    }
  }

  /** HAProxy's log since {@code offset}, waiting up to a second for supervisord to pass on an ALERT. */
  private String logSince(long offset) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    String text = tail(settings.log(), offset);
    while (!text.contains("[ALERT]") && System.nanoTime() < deadline) {
      pause();
      text = tail(settings.log(), offset);
    }
    return text;
  }

  /** The file from {@code offset} on (from the start when it was rotated meanwhile). */
  private static String tail(Path file, long offset) {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      long from = f.length() < offset ? 0 : offset;
      byte[] bytes = new byte[(int) Math.min(f.length() - from, 256 * 1024)];
      f.seek(from);
      f.readFully(bytes);
      return new String(bytes, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JRE has SHA-256", e);
    }
  }
}
