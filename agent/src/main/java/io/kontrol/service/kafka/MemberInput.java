package io.kontrol.service.kafka;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;

/**
 * What the group's leader sends one Kafka pod with {@code configure} ({@code $INPUT}): enough to
 * format its volume and start, and nothing it can work out alone.
 *
 * @param clusterId the group's cluster id (made once by the leader, kept in the group state)
 * @param nodeId this pod's node.id: its volume's when formatted, else its seq
 * @param seq this pod's seq in the group (differs from nodeId after an etcd rebuild)
 * @param controller broker+controller (node.id below the controller count) or broker only
 * @param bootstrap the controllers' {@code host:9093}, for {@code controller.quorum.bootstrap.servers}
 * @param initialControllers while the cluster forms: the {@code --initial-controllers} string
 *     (the same on every initial controller); null afterwards, when a new volume joins with
 *     {@code --no-initial-controllers}
 * @param refuse when set, the pod must not start, and reports this as its config_error
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MemberInput(
    @JsonProperty("cluster_id") String clusterId,
    @JsonProperty("node_id") int nodeId,
    @JsonProperty("seq") int seq,
    @JsonProperty("controller") boolean controller,
    @JsonProperty("bootstrap") List<String> bootstrap,
    @JsonProperty("initial_controllers") String initialControllers,
    @JsonProperty("refuse") String refuse) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** @throws IllegalArgumentException naming what is wrong with {@code json} */
  public static MemberInput parse(String json) {
    if (json == null || json.isBlank()) {
      throw new IllegalArgumentException(
          "no input: configure is sent by the group's leader (kontrol callback kafka) with"
              + " {\"cluster_id\": ..., \"node_id\": ..., \"bootstrap\": [...]}");
    }
    MemberInput in;
    try {
      in = JSON.readValue(json, MemberInput.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("input is not a Kafka member configuration: " + e.getOriginalMessage());
    }
    if (in.refuse() == null) {
      if (in.clusterId() == null || in.clusterId().isBlank()) {
        throw new IllegalArgumentException("input has no cluster_id");
      }
      if (in.nodeId() < 0) {
        throw new IllegalArgumentException("input node_id " + in.nodeId() + " is negative");
      }
      if (in.bootstrap() == null || in.bootstrap().isEmpty()) {
        throw new IllegalArgumentException("input has no bootstrap controllers");
      }
    }
    return in;
  }

  /** The same input once the cluster has formed: without {@code initial_controllers}. */
  public MemberInput afterFormation() {
    return new MemberInput(clusterId, nodeId, seq, controller, bootstrap, null, refuse);
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
