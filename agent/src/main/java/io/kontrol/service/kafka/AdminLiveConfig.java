package io.kontrol.service.kafka;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;

/**
 * {@link LiveConfig} through the local broker's Admin API: the broker itself tells which keys it
 * can change at run time (each key is tried with {@code validateOnly} first), so no list of
 * dynamic keys is kept here. Bounded calls.
 */
public final class AdminLiveConfig implements LiveConfig {

  private final Admin admin;
  private final ConfigResource broker;

  public AdminLiveConfig(String bootstrap, int nodeId) {
    this.admin = KafkaAdmins.brokers(bootstrap, "kontrol-configure");
    this.broker = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(nodeId));
  }

  @Override
  public Map<String, String> dynamic() throws IOException {
    Config config = KafkaAdmins.get(admin.describeConfigs(List.of(broker)).all(), "describeConfigs").get(broker);
    Map<String, String> out = new TreeMap<>();
    for (ConfigEntry e : config.entries()) {
      if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG) {
        out.put(e.name(), e.value());
      }
    }
    return out;
  }

  @Override
  public List<String> apply(Map<String, String> set, Set<String> delete) throws IOException {
    List<AlterConfigOp> ops = new ArrayList<>();
    List<String> readOnly = new ArrayList<>();
    for (Map.Entry<String, String> e : set.entrySet()) {
      AlterConfigOp op = new AlterConfigOp(new ConfigEntry(e.getKey(), e.getValue()), AlterConfigOp.OpType.SET);
      try {
        alter(List.of(op), true);
        ops.add(op);
      } catch (IOException refused) {
        readOnly.add(e.getKey());
      }
    }
    for (String key : delete) {
      ops.add(new AlterConfigOp(new ConfigEntry(key, ""), AlterConfigOp.OpType.DELETE));
    }
    if (!ops.isEmpty()) {
      alter(ops, false);
    }
    return readOnly;
  }

  private void alter(Collection<AlterConfigOp> ops, boolean validateOnly) throws IOException {
    KafkaAdmins.get(
        admin.incrementalAlterConfigs(Map.of(broker, ops), new AlterConfigsOptions().validateOnly(validateOnly)).all(),
        "incrementalAlterConfigs");
  }

  @Override
  public void close() {
    admin.close(java.time.Duration.ofSeconds(5));
  }
}
