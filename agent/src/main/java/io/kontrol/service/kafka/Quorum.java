package io.kontrol.service.kafka;

import java.io.IOException;
import java.util.List;

/** The KRaft quorum as the group's leader sees and changes it (the Admin API in the image). */
public interface Quorum {

  /** A voter or observer: a node id with the directory id of its metadata log. */
  record Replica(int id, String directoryId, long logEndOffset) {}

  /** {@code describeMetadataQuorum}. */
  record View(int leaderId, long leaderEndOffset, List<Replica> voters, List<Replica> observers) {
    public boolean isVoter(int id, String dir) {
      return voters.stream().anyMatch(v -> v.id() == id && v.directoryId().equals(dir));
    }
  }

  /** The quorum through {@code bootstrap} ({@code host:9093} of controllers). */
  View describe(List<String> bootstrap) throws IOException;

  /** {@code addRaftVoter(id, dir, CONTROLLER://host:9093)}. */
  void addVoter(List<String> bootstrap, int id, String dir, String host) throws IOException;

  /** {@code removeRaftVoter(id, dir)}. */
  void removeVoter(List<String> bootstrap, int id, String dir) throws IOException;

  /** A fresh Kafka UUID (cluster ids, directory ids). */
  String randomUuid();
}
