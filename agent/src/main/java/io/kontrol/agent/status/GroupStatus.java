package io.kontrol.agent.status;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A whole group as {@code kontrol status --group} shows it, modelled on {@code patronictl list}:
 * a header (group, digest, leader, etcd) and a row per live member.
 *
 * @param group {@code <namespace>/<app>}
 * @param digest the group's digest ({@code $MD5} of its records)
 * @param leader the leader's pod id, if the group has one
 * @param etcd etcd's health as seen by the reader (e.g. {@code ok, 3 members})
 * @param members the live members, by seq
 * @param problems why the group is degraded (empty: healthy)
 * @param config the group's configuration, when one is stored: its revision and what the leader's
 *     state says of it
 */
public record GroupStatus(
    String group,
    String digest,
    Optional<String> leader,
    String etcd,
    List<Member> members,
    List<String> problems,
    Optional<Config> config) {

  public GroupStatus {
    members = List.copyOf(members);
    problems = List.copyOf(problems);
  }

  public GroupStatus(String group, String digest, Optional<String> leader, String etcd, List<Member> members, List<String> problems) {
    this(group, digest, leader, etcd, members, problems, Optional.empty());
  }

  /**
   * The group's stored configuration ({@code G/config}) and how far the leader got with it.
   *
   * @param revision the stored document's revision
   * @param appliedRevision the revision the leader's state says it last applied (0: none)
   * @param status {@code applied}, {@code failed} or {@code invalid} as the leader's state says for
   *     {@code revision}; {@code pending} while the state is about an older revision
   */
  public record Config(long revision, long appliedRevision, String status) {
    /** {@code rev 42 applied}, as the table's header shows it. */
    @Override
    public String toString() {
      return "rev " + revision + " " + status + (status.equals("pending") && appliedRevision > 0 ? " (rev " + appliedRevision + " applied)" : "");
    }
  }

  /**
   * One member.
   *
   * @param state the automaton's state (empty when its peer API did not answer)
   * @param applied whether it has applied the leader's latest configuration (the leader's last
   *     callback ran ok on the current digest, and the member reports no {@code config_error});
   *     empty when unknown (the leader did not answer)
   * @param leaseLeftSeconds seconds before its record expires without a keepalive (-1 unknown)
   * @param lastCallback the leader's last callback: age in seconds and result (leader only)
   * @param peerError why its peer API did not answer, if it did not
   */
  public record Member(
      String id,
      String ip,
      long seq,
      boolean leader,
      String state,
      Optional<Boolean> applied,
      long leaseLeftSeconds,
      Optional<String> lastCallback,
      Optional<String> configError,
      Optional<String> peerError) {}

  public boolean healthy() {
    return problems.isEmpty();
  }

  /** As plain maps and lists, for JSON and YAML. */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("group", group);
    m.put("digest", digest);
    m.put("leader", leader.orElse(null));
    m.put("etcd", etcd);
    m.put("healthy", healthy());
    m.put("problems", problems);
    config.ifPresent(
        c -> {
          Map<String, Object> cm = new LinkedHashMap<>();
          cm.put("revision", c.revision());
          cm.put("applied_revision", c.appliedRevision());
          cm.put("status", c.status());
          m.put("config", cm);
        });
    List<Object> rows = new ArrayList<>();
    for (Member r : members) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("id", r.id());
      row.put("ip", r.ip());
      row.put("seq", r.seq());
      row.put("role", r.leader() ? "leader" : "member");
      row.put("state", r.state().isEmpty() ? null : r.state());
      row.put("applied", r.applied().orElse(null));
      row.put("lease_left_s", r.leaseLeftSeconds() < 0 ? null : r.leaseLeftSeconds());
      row.put("last_callback", r.lastCallback().orElse(null));
      row.put("config_error", r.configError().orElse(null));
      row.put("peer_error", r.peerError().orElse(null));
      rows.add(row);
    }
    m.put("members", rows);
    return m;
  }
}
