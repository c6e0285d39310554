package io.kontrol.agent.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the {@code KONTROL_PAYLOAD} file, event-driven: a {@link WatchService} on its
 * directory, and any event there re-reads the file. Reacting to every event of the directory
 * (not only the file's name) covers an editor's atomic rename and Kubernetes' ConfigMap mounts,
 * where the file is a symlink through {@code ..data}, itself swapped by a rename.
 *
 * <p>Each good read whose JSON differs from the last is handed to the consumer. A missing file
 * or invalid JSON keeps the last good payload and is logged once, until the file is good again.
 */
public final class PayloadWatcher implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(PayloadWatcher.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Largest payload file: the payload travels in the pod's record, read by every group change. */
  public static final int MAX_BYTES = 64 << 10;
  /** When the directory itself is missing there is nothing to watch: look again this often. */
  private static final long MISSING_DIR_RETRY_MS = 2000;

  private final Path file;
  private final Consumer<JsonNode> onPayload;
  private final Thread thread;
  private volatile WatchService watcher;
  private volatile boolean closed;
  private JsonNode last;
  private String lastProblem;

  public PayloadWatcher(Path file, Consumer<JsonNode> onPayload) {
    this.file = file.toAbsolutePath();
    this.onPayload = onPayload;
    this.thread = new Thread(this::run, "kontrol-payload");
    this.thread.setDaemon(true);
  }

  /** Reads the file once (synchronously, so the first registration carries it), then follows it. */
  public PayloadWatcher start() {
    reload();
    thread.start();
    return this;
  }

  private void run() {
    while (!closed) {
      Path dir = file.getParent();
      try (WatchService ws = FileSystems.getDefault().newWatchService()) {
        watcher = ws;
        dir.register(
            ws,
            StandardWatchEventKinds.ENTRY_CREATE,
            StandardWatchEventKinds.ENTRY_MODIFY,
            StandardWatchEventKinds.ENTRY_DELETE);
        reload(); // a change between the first read and the registration
        while (!closed) {
          WatchKey key = ws.take();
          key.pollEvents();
          reload();
          if (!key.reset()) {
            break; // the directory went away: watch again when it is back
          }
        }
      } catch (ClosedWatchServiceException | InterruptedException e) {
        return;
      } catch (IOException e) {
        problem("directory " + dir + " cannot be watched (" + e.getMessage() + ")");
        try {
          TimeUnit.MILLISECONDS.sleep(MISSING_DIR_RETRY_MS);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  private void reload() {
    JsonNode node;
    try {
      node = parse(read(file), file);
    } catch (java.nio.file.NoSuchFileException e) {
      problem("missing file " + file);
      return;
    } catch (IOException e) {
      problem(e.getMessage());
      return;
    }
    lastProblem = null;
    if (!Objects.equals(node, last)) {
      last = node;
      LOG.info("payload updated file={}", file);
      onPayload.accept(node);
    }
  }

  /** The file's bytes, at most {@link #MAX_BYTES}: a larger file is refused unread. */
  public static byte[] read(Path file) throws IOException {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    }
    if (bytes.length > MAX_BYTES) {
      throw new IOException("file " + file + " is larger than " + (MAX_BYTES >> 10) + " KiB, the most a payload may be");
    }
    return bytes;
  }

  /**
   * One JSON value from the file's bytes.
   *
   * @throws IOException saying what is wrong (empty, not JSON, and where), the file named
   */
  static JsonNode parse(byte[] bytes, Path file) throws IOException {
    JsonNode node;
    try {
      node = JSON.readTree(bytes);
    } catch (IOException e) {
      throw new IOException("invalid JSON in " + file + " (" + firstLine(e.getMessage()) + ")", e);
    }
    if (node == null || node.isMissingNode()) {
      throw new IOException("empty file " + file);
    }
    String outOfRange = nonFinite(node, "");
    if (outOfRange != null) {
      // 1e999 reads as Infinity, which JSON cannot carry: the record would hold the string "Infinity"
      throw new IOException("number out of range in " + file + " at " + (outOfRange.isEmpty() ? "/" : outOfRange)
          + " (beyond a double's range: write it as a string)");
    }
    return node;
  }

  /** The JSON pointer of the first number that is not finite as a double, or null. */
  private static String nonFinite(JsonNode node, String at) {
    if (node.isFloatingPointNumber() && !Double.isFinite(node.doubleValue())) {
      return at;
    }
    if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        String found = nonFinite(node.get(i), at + "/" + i);
        if (found != null) {
          return found;
        }
      }
    } else if (node.isObject()) {
      for (var it = node.fields(); it.hasNext(); ) {
        var e = it.next();
        String found = nonFinite(e.getValue(), at + "/" + e.getKey().replace("~", "~0").replace("/", "~1"));
        if (found != null) {
          return found;
        }
      }
    }
    return null;
  }

  private void problem(String what) {
    if (!what.equals(lastProblem)) {
      lastProblem = what;
      LOG.warn("payload kept: {}", what);
    }
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  @Override
  public void close() {
    closed = true;
    WatchService ws = watcher;
    if (ws != null) {
      try {
        ws.close();
      } catch (IOException ignored) {
        // closing
      }
    }
    thread.interrupt();
    try {
      thread.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
