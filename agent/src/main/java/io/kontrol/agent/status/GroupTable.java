package io.kontrol.agent.status;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.ArrayList;
import java.util.List;
import org.snakeyaml.engine.v2.api.Dump;
import org.snakeyaml.engine.v2.api.DumpSettings;
import org.snakeyaml.engine.v2.common.FlowStyle;

/** A {@link GroupStatus} as text: a table as {@code patronictl list} prints it, JSON or YAML. */
public final class GroupTable {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final String[] HEADERS = {
    "Member", "IP", "Seq", "Role", "State", "Applied", "Lease", "Last callback", "Config error"
  };

  private GroupTable() {}

  public static String json(GroupStatus s) {
    try {
      return JSON.writeValueAsString(s.toMap()) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String yaml(GroupStatus s) {
    return new Dump(DumpSettings.builder().setDefaultFlowStyle(FlowStyle.BLOCK).build()).dumpToString(s.toMap());
  }

  public static String table(GroupStatus s) {
    List<String[]> rows = new ArrayList<>();
    rows.add(HEADERS);
    for (GroupStatus.Member m : s.members()) {
      rows.add(
          new String[] {
            m.id(),
            m.ip(),
            Long.toString(m.seq()),
            m.leader() ? "Leader" : "Member",
            m.peerError().isPresent() ? "(no answer)" : m.state().isEmpty() ? "(no automaton)" : m.state(),
            m.applied().map(a -> a ? "yes" : "no").orElse("?"),
            m.leaseLeftSeconds() < 0 ? "-" : m.leaseLeftSeconds() + "s",
            m.lastCallback().orElse(""),
            oneLine(m.configError().orElse(""))
          });
    }
    int[] w = new int[HEADERS.length];
    for (String[] r : rows) {
      for (int i = 0; i < r.length; i++) {
        w[i] = Math.max(w[i], r[i].length());
      }
    }
    StringBuilder sep = new StringBuilder("+");
    for (int x : w) {
      sep.append("-".repeat(x + 2)).append('+');
    }
    StringBuilder out = new StringBuilder();
    out.append("+ Group ")
        .append(s.group())
        .append(" · digest ")
        .append(s.digest())
        .append(" · leader ")
        .append(s.leader().orElse("(none)"))
        .append(" · etcd ")
        .append(s.etcd())
        .append(s.config().map(c -> " · config " + c).orElse(""))
        .append('\n');
    out.append(sep).append('\n');
    for (int r = 0; r < rows.size(); r++) {
      out.append('|');
      for (int i = 0; i < w.length; i++) {
        out.append(' ').append(pad(rows.get(r)[i], w[i])).append(" |");
      }
      out.append('\n');
      if (r == 0) {
        out.append(sep).append('\n');
      }
    }
    out.append(sep).append('\n');
    if (s.healthy()) {
      out.append("healthy\n");
    } else {
      for (String p : s.problems()) {
        out.append("degraded: ").append(p).append('\n');
      }
    }
    return out.toString();
  }

  private static String pad(String s, int w) {
    return s + " ".repeat(w - s.length());
  }

  private static String oneLine(String s) {
    String t = s.replace('\n', ' ').replace('\r', ' ');
    return t.length() > 60 ? t.substring(0, 57) + "..." : t;
  }
}
