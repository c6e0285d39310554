package io.kontrol.service.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.agent.render.AtomicFile;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;

/**
 * The pod's payload file ({@code KONTROL_PAYLOAD}), which the agent attaches to the pod's record.
 * Several programs of a Kafka pod write it (the lifecycle's configure, the health watch): each
 * update is a read-modify-replace under an exclusive lock on a sibling {@code .lock} file, so no
 * update is lost, and the replace is atomic, so the agent never reads half a file.
 */
public final class PayloadFile {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;

  public PayloadFile(Path file) {
    this.file = file;
  }

  public Path path() {
    return file;
  }

  /** The current payload (an empty object when there is none or it is not a JSON object). */
  public ObjectNode read() throws IOException {
    if (!Files.exists(file)) {
      return JSON.createObjectNode();
    }
    String text = Files.readString(file, StandardCharsets.UTF_8);
    if (text.isBlank()) {
      return JSON.createObjectNode();
    }
    try {
      JsonNode node = JSON.readTree(text);
      return node instanceof ObjectNode o ? o : JSON.createObjectNode();
    } catch (IOException e) {
      return JSON.createObjectNode();
    }
  }

  /** Applies {@code change} to the payload and writes it back when it changed. */
  public void update(Consumer<ObjectNode> change) throws IOException {
    Path lock = file.resolveSibling(file.getFileName() + ".lock");
    Files.createDirectories(file.toAbsolutePath().getParent());
    try (FileChannel channel = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock ignored = channel.lock()) {
      ObjectNode payload = read();
      ObjectNode before = payload.deepCopy();
      change.accept(payload);
      if (!payload.equals(before) || !Files.exists(file)) {
        AtomicFile.write(file, JSON.writeValueAsString(payload) + "\n");
      }
    }
  }
}
