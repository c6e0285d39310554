package io.kontrol.service.kafka;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;

/**
 * A formatted Kafka log directory's {@code meta.properties}: the identity the volume carries
 * (cluster id, node id, directory id), which outlives any seq etcd hands out.
 */
public record MetaProperties(String clusterId, int nodeId, String directoryId) {

  public static final String FILE = "meta.properties";

  /**
   * Reads {@code dir/meta.properties}.
   *
   * @return empty when the directory is not formatted
   * @throws IOException when the file exists but cannot be read or lacks cluster.id / node.id
   */
  public static Optional<MetaProperties> read(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      p.load(r);
    }
    String cluster = p.getProperty("cluster.id", "").strip();
    String node = p.getProperty("node.id", "").strip();
    if (cluster.isEmpty() || node.isEmpty()) {
      throw new IOException(file + " has no " + (cluster.isEmpty() ? "cluster.id" : "node.id") + ": not a Kafka 4 volume");
    }
    int id;
    try {
      id = Integer.parseInt(node);
    } catch (NumberFormatException e) {
      throw new IOException(file + ": node.id '" + node + "' is not a number");
    }
    return Optional.of(new MetaProperties(cluster, id, p.getProperty("directory.id", "").strip()));
  }
}
