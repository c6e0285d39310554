package io.kontrol.service.haproxy;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Decides whether a new rendering can be applied to the running HAProxy through its runtime API
 * instead of a reload, and with which commands.
 *
 * <p>Conservative: the two configurations must have the same sections in the same order, the
 * same lines apart from {@code server} lines (whitespace and comments aside), and the same
 * servers, by name and in order, in every backend. A server may differ only in its address
 * ({@code set server B/S addr IP port P}) and in its {@code disabled} keyword ({@code set server
 * B/S state maint|ready}). This is what the "slots" idiom produces: a fixed number of servers per
 * app, the unused ones disabled on a placeholder address. Anything else (a server added or
 * removed, a changed keyword, a new bind, ACL, timeout...) needs a reload.
 */
public final class ServerChanges {

  /** One server whose address or state changes, with the runtime commands that apply it. */
  public record Change(String backend, String server, String host, String port, boolean enabled, List<String> commands) {}

  private ServerChanges() {}

  /**
   * @return the changes, empty when nothing differs but whitespace or comments; {@link
   *     Optional#empty()} when the difference needs a reload
   */
  public static Optional<List<Change>> between(String running, String candidate) {
    List<Section> before = sections(running);
    List<Section> after = sections(candidate);
    if (before.size() != after.size()) {
      return Optional.empty();
    }
    List<Change> changes = new ArrayList<>();
    for (int i = 0; i < before.size(); i++) {
      Section a = before.get(i);
      Section b = after.get(i);
      if (!a.header.equals(b.header) || !a.lines.equals(b.lines) || a.servers.size() != b.servers.size()) {
        return Optional.empty();
      }
      for (int j = 0; j < a.servers.size(); j++) {
        Server s = a.servers.get(j);
        Server t = b.servers.get(j);
        if (!s.name.equals(t.name) || !s.keywords.equals(t.keywords) || a.name == null) {
          return Optional.empty();
        }
        if (s.equals(t)) {
          continue;
        }
        String target = a.name + "/" + t.name;
        List<String> commands = new ArrayList<>();
        // out of rotation before the address moves; back in only once it points at the new one
        if (!t.enabled && s.enabled) {
          commands.add("set server " + target + " state maint");
        }
        if (!s.host.equals(t.host) || !s.port.equals(t.port)) {
          if (t.port.isEmpty() && !s.port.isEmpty()) {
            return Optional.empty(); // a port cannot be removed at run time
          }
          commands.add("set server " + target + " addr " + t.host + (t.port.isEmpty() ? "" : " port " + t.port));
        }
        if (t.enabled && !s.enabled) {
          commands.add("set server " + target + " state ready");
        }
        changes.add(new Change(a.name, t.name, t.host, t.port, t.enabled, List.copyOf(commands)));
      }
    }
    return Optional.of(List.copyOf(changes));
  }

  private static final class Section {
    final String header;
    /** The proxy name of a backend or listen section (servers live only there), else null. */
    final String name;

    final List<String> lines = new ArrayList<>();
    final List<Server> servers = new ArrayList<>();

    Section(String header) {
      this.header = header;
      String[] words = header.split(" ");
      this.name = (words[0].equals("backend") || words[0].equals("listen")) && words.length > 1 ? words[1] : null;
    }
  }

  private record Server(String name, String host, String port, boolean enabled, List<String> keywords) {}

  private static List<Section> sections(String config) {
    List<Section> sections = new ArrayList<>();
    Section current = new Section("");
    sections.add(current);
    for (String raw : config.split("\n", -1)) {
      String line = normalise(raw);
      if (line.isEmpty()) {
        continue;
      }
      boolean indented = Character.isWhitespace(raw.charAt(0));
      if (!indented) {
        current = new Section(line);
        sections.add(current);
        continue;
      }
      Server server = server(line);
      if (server != null) {
        current.servers.add(server);
      } else {
        current.lines.add(line);
      }
    }
    return sections;
  }

  /** Collapses whitespace and drops a comment (a '#' that starts a word, outside quotes). */
  private static String normalise(String raw) {
    StringBuilder out = new StringBuilder();
    boolean quoted = false;
    boolean space = false;
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && c == '#' && (i == 0 || Character.isWhitespace(raw.charAt(i - 1)))) {
        break;
      }
      if (!quoted && Character.isWhitespace(c)) {
        space = out.length() > 0;
        continue;
      }
      if (space) {
        out.append(' ');
        space = false;
      }
      out.append(c);
    }
    return out.toString();
  }

  private static Server server(String line) {
    String[] words = line.split(" ");
    if (!words[0].equals("server") || words.length < 3) {
      return null;
    }
    String address = words[2];
    String host = address;
    String port = "";
    int colon = address.lastIndexOf(':');
    if (colon >= 0 && address.indexOf(':') == colon) {
      host = address.substring(0, colon);
      port = address.substring(colon + 1);
    } else if (colon >= 0) {
      return new Server(words[1], address, "", true, List.of("\u0000" + address)); // IPv6: any change reloads
    }
    List<String> keywords = new ArrayList<>();
    boolean enabled = true;
    for (int i = 3; i < words.length; i++) {
      if (words[i].equals("disabled")) {
        enabled = false;
      } else if (words[i].equals("enabled")) {
        enabled = true;
      } else {
        keywords.add(words[i]);
      }
    }
    Objects.requireNonNull(host);
    return new Server(words[1], host, port, enabled, List.copyOf(keywords));
  }
}
