package io.kontrol.automaton.socket;

import io.kontrol.automaton.client.AutomatonClient;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's socket file: made in place of a stale one (nothing answers on it), never over a
 * live one or a file that is not a socket; given its mode; and removed at the end only while it
 * is still the file this server made (another automaton may have replaced it meanwhile).
 */
final class SocketFile {
  private static final Logger log = LoggerFactory.getLogger("automaton.socket");

  private final Path path;
  private final Set<PosixFilePermission> mode;
  /** The file's identity once made, so that {@link #remove()} removes only ours. */
  private Object fileKey;

  SocketFile(Path path, Set<PosixFilePermission> mode) {
    this.path = path;
    this.mode = Set.copyOf(mode);
  }

  Path path() {
    return path;
  }

  /**
   * Makes the socket file and listens on it (non-blocking, with {@code backlog} pending
   * connections).
   *
   * @throws SocketServer.InUseException when another process answers on the path
   * @throws IOException when the path is not a socket, or the file cannot be made
   */
  ServerSocketChannel listen(int backlog) throws IOException {
    replaceStale();
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    boolean ok = false;
    try {
      server.bind(UnixDomainSocketAddress.of(path), backlog);
      Files.setPosixFilePermissions(path, mode);
      fileKey = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
      server.configureBlocking(false);
      ok = true;
      return server;
    } finally {
      if (!ok) {
        try {
          server.close();
        } catch (IOException e) {
          // nothing more to do
        }
        remove();
      }
    }
  }

  private void replaceStale() throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!SocketFiles.isSocket(path)) {
      throw new IOException(path + " exists and is not a socket: refusing to replace it");
    }
    try {
      String state = new AutomatonClient(path).send("STATE", Duration.ofSeconds(2));
      throw new SocketServer.InUseException(
          "another automaton is running on " + path + (state.isEmpty() ? "" : " (state " + state + ")"));
    } catch (ConnectException e) {
      Files.deleteIfExists(path);
      log.info("removed stale socket {}", path);
    } catch (TimeoutException e) {
      throw new SocketServer.InUseException(
          "something is listening on " + path + " but does not answer: refusing to replace it");
    }
  }

  /** Removes the socket file if it is still the one {@link #listen(int)} made. */
  void remove() {
    try {
      if (fileKey != null && Files.exists(path, LinkOption.NOFOLLOW_LINKS)
          && fileKey.equals(Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey())) {
        Files.delete(path);
        log.info("removed socket {}", path);
      }
    } catch (IOException e) {
      log.warn("could not remove socket {}: {}", path, e.toString());
    }
  }
}
