package io.kontrol.service.kafka;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.RaftVoterEndpoint;
import org.apache.kafka.common.Uuid;

/**
 * {@link Quorum} through Kafka's Admin API, connected to the controllers directly ({@code
 * bootstrap.controllers}). Every call is bounded ({@link KafkaAdmins}). Needs kafka-clients on
 * the class path (the kontrol/kafka image has it; see {@link KafkaClients}).
 */
public final class AdminQuorum implements Quorum {

  private static Admin admin(List<String> bootstrap) {
    return KafkaAdmins.controllers(String.join(",", bootstrap), "kontrol-callback");
  }

  @Override
  public View describe(List<String> bootstrap) throws IOException {
    try (Admin admin = admin(bootstrap)) {
      QuorumInfo q = KafkaAdmins.get(admin.describeMetadataQuorum().quorumInfo(), "describeMetadataQuorum");
      long leaderEnd =
          q.voters().stream().filter(r -> r.replicaId() == q.leaderId()).mapToLong(QuorumInfo.ReplicaState::logEndOffset).findFirst().orElse(-1);
      return new View(
          q.leaderId(),
          leaderEnd,
          q.voters().stream().map(AdminQuorum::replica).toList(),
          q.observers().stream().map(AdminQuorum::replica).toList());
    }
  }

  private static Replica replica(QuorumInfo.ReplicaState r) {
    return new Replica(r.replicaId(), r.replicaDirectoryId().toString(), r.logEndOffset());
  }

  @Override
  public void addVoter(List<String> bootstrap, int id, String dir, String host) throws IOException {
    try (Admin admin = admin(bootstrap)) {
      KafkaAdmins.get(
          admin.addRaftVoter(id, Uuid.fromString(dir), Set.of(new RaftVoterEndpoint("CONTROLLER", host, BrokerConfig.CONTROLLER_PORT))).all(),
          "addRaftVoter(" + id + ", " + dir + ")");
    }
  }

  @Override
  public void removeVoter(List<String> bootstrap, int id, String dir) throws IOException {
    try (Admin admin = admin(bootstrap)) {
      KafkaAdmins.get(admin.removeRaftVoter(id, Uuid.fromString(dir)).all(), "removeRaftVoter(" + id + ", " + dir + ")");
    }
  }

  @Override
  public String randomUuid() {
    return Uuid.randomUuid().toString();
  }

}
