package io.kontrol.agent;

import io.kontrol.agent.group.Group;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An immutable snapshot of a running agent.
 *
 * @param id this pod's id
 * @param records this pod's record JSON in each group it is registered in (empty until written)
 * @param reportsTo the groups it reports to (slave mode)
 * @param leads per group it campaigns for (master mode): whether it leads it now
 * @param lastDigest the digest of the group at the leader's last pass, if it led
 * @param lastState the group's last state as this agent last saw it while leading (the one its
 *     callback stored, else the one in etcd), if any
 * @param lastCallback how its last callback run ended, if it ran one while leading
 */
public record AgentStatus(
    String id,
    Map<Group, String> records,
    List<Group> reportsTo,
    Map<Group, Boolean> leads,
    Optional<String> lastDigest,
    Optional<String> lastState,
    Optional<LastCallback> lastCallback) {

  /** A callback run: when it ended (epoch millis) and its result ({@code ok}, {@code failed}, {@code timeout}). */
  public record LastCallback(long endedMillis, String result) {}

  public AgentStatus {
    records = Map.copyOf(records);
    reportsTo = List.copyOf(reportsTo);
    leads = Map.copyOf(leads);
  }

  /** True when this agent leads {@code group} now. */
  public boolean leads(Group group) {
    return leads.getOrDefault(group, false);
  }
}
