package io.kontrol.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A test callback: a shell script that appends {@code <agent id> <MD5> <PODS>} to a file per run,
 * then behaves as the {@code mode} file says: {@code ok} prints a JSON state, {@code fail} exits
 * 3, {@code nonjson} prints text, {@code slow} sleeps past any timeout, {@code tick} acts until it is
 * killed: a line {@code <millis> <agent id>} to {@code ticks} every 50 ms.
 */
final class CallbackLog {
  static final ObjectMapper JSON = new ObjectMapper();

  /** One run: who ran it, the digest and the pods' ids in order. */
  record Call(String by, String md5, List<String> ids, long atMillis) {}

  final Path dir;
  final Path script;

  CallbackLog(Path dir) throws IOException {
    this.dir = dir;
    this.script = dir.resolve("cb.sh");
    Files.writeString(
        script,
        String.join(
            "\n",
            "#!/bin/sh",
            "echo \"$(date +%s%3N) $KONTROL_ID $MD5 $PODS\" >> \"$CB_DIR/calls\"",
            "[ \"$(cat \"$PODS_FILE\")\" = \"$PODS\" ] || echo \"PODS_FILE differs from PODS\" >> \"$CB_DIR/errors\"",
            "mode=$(cat \"$CB_DIR/mode\" 2>/dev/null || echo ok)",
            "case \"$mode\" in",
            "  ok) printf '{\"by\":\"%s\",\"md5\":\"%s\"}\\n' \"$KONTROL_ID\" \"$MD5\" ;;",
            "  fail) echo 'it broke' >&2; exit 3 ;;",
            "  nonjson) echo 'not json' ;;",
            "  slow) sleep 30 ;;",
            "  tick) while :; do echo \"$(date +%s%3N) $KONTROL_ID\" >> \"$CB_DIR/ticks\"; sleep 0.05; done ;;",
            "esac",
            ""));
    mode("ok");
  }

  /** Adds the callback settings to an agent's environment. */
  Map<String, String> into(Map<String, String> env) {
    env.put("KONTROL_CALLBACK", "sh " + script);
    env.put("CB_DIR", dir.toString());
    return env;
  }

  void mode(String m) throws IOException {
    Files.writeString(dir.resolve("mode"), m + "\n");
  }

  List<Call> calls() throws IOException {
    Path f = dir.resolve("calls");
    List<Call> out = new ArrayList<>();
    if (!Files.exists(f)) {
      return out;
    }
    for (String line : Files.readAllLines(f)) {
      String[] p = line.split(" ", 4);
      if (p.length < 4) {
        continue; // a line being written
      }
      List<String> ids = new ArrayList<>();
      try {
        for (JsonNode n : JSON.readTree(p[3])) {
          ids.add(n.get("id").asText());
        }
      } catch (IOException e) {
        continue;
      }
      out.add(new Call(p[1], p[2], ids, Long.parseLong(p[0])));
    }
    return out;
  }

  Call last() throws IOException {
    List<Call> c = calls();
    return c.isEmpty() ? null : c.get(c.size() - 1);
  }

  /** One tick of a callback in {@code tick} mode: who was acting, and when. */
  record Tick(String by, long atMillis) {}

  List<Tick> ticks() throws IOException {
    Path f = dir.resolve("ticks");
    List<Tick> out = new ArrayList<>();
    if (!Files.exists(f)) {
      return out;
    }
    for (String line : Files.readAllLines(f)) {
      String[] p = line.split(" ");
      if (p.length == 2) {
        out.add(new Tick(p[1], Long.parseLong(p[0])));
      }
    }
    return out;
  }

  /** Problems the script noticed in its environment (none expected). */
  List<String> errors() throws IOException {
    Path f = dir.resolve("errors");
    return Files.exists(f) ? Files.readAllLines(f) : List.of();
  }

  int count() throws IOException {
    return calls().size();
  }
}
