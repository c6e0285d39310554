package io.kontrol.agent.render;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Replaces a file atomically: the content goes to a temporary file in the SAME directory (so the
 * rename cannot cross file systems), is flushed to disk, optionally checked, then renamed over
 * the target. A reader (nats-server on SIGHUP, haproxy on reload) sees the old file or the new
 * one, never half of it; a content that fails the check never replaces the target.
 */
public final class AtomicFile {

  /** Inspects the staged file before it replaces the target. */
  @FunctionalInterface
  public interface Check {
    /** @throws RenderException when the staged file must not replace the target */
    void verify(Path staged) throws IOException, RenderException;
  }

  private AtomicFile() {}

  public static void write(Path target, String content) throws IOException {
    try {
      write(target, content, staged -> {});
    } catch (RenderException e) {
      throw new IllegalStateException("the empty check never fails", e);
    }
  }

  public static void write(Path target, String content, Check check) throws IOException, RenderException {
    Path absolute = target.toAbsolutePath();
    Path dir = absolute.getParent();
    Files.createDirectories(dir);
    Path temp = Files.createTempFile(dir, "." + absolute.getFileName() + ".", ".tmp");
    try {
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        ByteBuffer bytes = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
          channel.write(bytes);
        }
        channel.force(true);
      }
      // createTempFile makes it 0600; a config file is read by the service's own user
      Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r--r--"));
      check.verify(temp);
      try {
        Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, absolute, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }
}
