package io.kontrol.agent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kontrol.agent.rpc.v1.Group;
import io.kontrol.agent.rpc.v1.StatusReply;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A pod's status as {@code kontrol status} and {@code kontrol peer ... status} print it. */
final class StatusPrinter {

  private StatusPrinter() {}

  private static final ObjectMapper JSON = new ObjectMapper()
      .configure(SerializationFeature.INDENT_OUTPUT, true);

  /** Prints a status as a two-column table, or as JSON. */
  static void print(PrintWriter out, StatusReply s, boolean json) {
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", s.getId());
      m.put("ip", s.getIp());
      m.put("mode", s.getMode());
      m.put("automaton_state", s.getAutomatonState());
      m.put("version", s.getVersion());
      m.put("uptime_ms", s.getUptimeMs());
      m.put("record", parse(s.getRecordJson()));
      m.put("groups", s.getGroupsList().stream().map(g -> {
        Map<String, Object> gm = new LinkedHashMap<>();
        gm.put("key", g.getKey());
        gm.put("leader", g.getLeader());
        gm.put("record", parse(g.getRecordJson()));
        return gm;
      }).toList());
      m.put("last_state", parse(s.getLastStateJson()));
      try {
        out.println(JSON.writeValueAsString(m));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    } else {
      row(out, "id", s.getId());
      row(out, "ip", s.getIp());
      row(out, "mode", s.getMode());
      row(out, "state", s.getAutomatonState().isEmpty() ? "(automaton not answering)" : s.getAutomatonState());
      row(out, "version", s.getVersion());
      row(out, "uptime", uptime(s.getUptimeMs()));
      List<Group> groups = s.getGroupsList();
      for (Group g : groups) {
        row(out, "group", g.getKey() + (g.getLeader() ? "  (leader)" : ""));
      }
      if (!s.getRecordJson().isEmpty()) {
        row(out, "record", s.getRecordJson());
      }
      if (!s.getLastStateJson().isEmpty()) {
        row(out, "last state", s.getLastStateJson());
      }
    }
    out.flush();
  }

  private static Object parse(String json) {
    if (json == null || json.isEmpty()) {
      return null;
    }
    try {
      return JSON.readTree(json);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return json;
    }
  }

  private static void row(PrintWriter out, String name, String value) {
    out.printf("%-11s %s%n", name, value == null || value.isEmpty() ? "-" : value);
  }

  private static String uptime(long ms) {
    long s = ms / 1000;
    return String.format("%dh%02dm%02ds", s / 3600, (s / 60) % 60, s % 60);
  }
}
