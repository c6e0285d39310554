package io.kontrol.automaton.manifest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.ReaderException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * Reads and validates a manifest. It works on the YAML node tree rather than on Java maps so that
 * every problem carries the line and column it comes from; it collects all the problems it can
 * before failing, so one {@code automaton check} run shows everything to fix.
 *
 * <p>The accepted format is the original tool's: {@code initial}, {@code terminal} and a {@code
 * states} list of {@code tag}, optional {@code shell} and {@code next}; plus the optional {@code
 * force} flag.
 */
public final class ManifestLoader {

  static final int MAX_BYTES = 4 << 20;

  private static final Set<String> ROOT_KEYS = Set.of("initial", "terminal", "states");
  private static final Set<String> STATE_KEYS = Set.of("tag", "shell", "next", "force");

  private ManifestLoader() {}

  /** Loads {@code file}; messages name it as given (relative paths stay relative). */
  public static Manifest load(Path file) throws ManifestException {
    String name = file.toString();
    byte[] bytes;
    try {
      if (Files.isDirectory(file)) {
        throw fail(name, 1, 1, "cannot read the manifest: it is a directory");
      }
      if (Files.size(file) > MAX_BYTES) {
        throw fail(name, 1, 1, "the manifest is larger than " + (MAX_BYTES >> 20) + " MiB");
      }
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw fail(name, 1, 1, "cannot read the manifest: no such file");
    } catch (IOException e) {
      throw fail(name, 1, 1, "cannot read the manifest: " + e.getMessage());
    }
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw fail(name, 1, 1, "not a YAML manifest: the file is not UTF-8 text");
    }
    return parse(name, text, file);
  }

  /** Parses manifest text; {@code name} is used in messages. */
  public static Manifest parse(String name, String text) throws ManifestException {
    return parse(name, text, Path.of(name));
  }

  private static Manifest parse(String name, String text, Path source) throws ManifestException {
    Node root = compose(name, text);
    return new Validation(name, source).run(root);
  }

  private static Node compose(String name, String text) throws ManifestException {
    LoadSettings settings = LoadSettings.builder()
        .setLabel(name)
        .setSchema(new CoreSchema())
        .setAllowDuplicateKeys(true) // reported by the validation, with both locations
        .setMaxAliasesForCollections(50)
        .setCodePointLimit(MAX_BYTES) // the file's own limit, checked first with a clearer message
        .setUseMarks(true)
        .build();
    try {
      Iterator<Node> docs = new Compose(settings).composeAllFromString(text).iterator();
      if (!docs.hasNext()) {
        throw fail(name, 1, 1, "the manifest is empty: expected a mapping with initial, terminal and states");
      }
      Node root = docs.next();
      if (docs.hasNext()) {
        Node second = docs.next();
        throw new ManifestException(List.of(at(name, second, "a manifest is one YAML document; found a second one")));
      }
      return root;
    } catch (MarkedYamlEngineException e) {
      Optional<Mark> mark = e.getProblemMark().or(e::getContextMark);
      String problem = e.getProblem() == null ? "invalid YAML" : e.getProblem();
      String context = e.getContext() == null ? "" : " (" + e.getContext() + ")";
      int line = mark.map(m -> m.getLine() + 1).orElse(1);
      int column = mark.map(m -> m.getColumn() + 1).orElse(1);
      throw fail(name, line, column, "not valid YAML: " + problem + context);
    } catch (ReaderException e) {
      int[] lc = lineColumn(text, e.getPosition());
      throw fail(name, lc[0], lc[1], "not valid YAML: " + e.getMessage());
    } catch (YamlEngineException e) {
      throw fail(name, 1, 1, "not valid YAML: " + e.getMessage());
    }
  }

  /** 1-based line and column of a code point offset. */
  private static int[] lineColumn(String text, int codePointOffset) {
    int line = 1;
    int column = 1;
    int cp = 0;
    for (int i = 0; i < text.length() && cp < codePointOffset; cp++) {
      int c = text.codePointAt(i);
      i += Character.charCount(c);
      if (c == '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    return new int[] {line, column};
  }

  private static ManifestException fail(String name, int line, int column, String reason) {
    return new ManifestException(List.of(new Problem(name, line, column, reason)));
  }

  static Problem at(String name, Node node, String reason) {
    Optional<Mark> mark = node.getStartMark();
    return new Problem(name, mark.map(m -> m.getLine() + 1).orElse(1), mark.map(m -> m.getColumn() + 1).orElse(1), reason);
  }

  /** One validation pass over a composed document; collects problems. */
  private static final class Validation {
    private final String name;
    private final Path source;
    private final List<Problem> problems = new ArrayList<>();
    private final List<Problem> warnings = new ArrayList<>();

    Validation(String name, Path source) {
      this.name = name;
      this.source = source;
    }

    private void problem(Node node, String reason) {
      problems.add(at(name, node, reason));
    }

    Manifest run(Node root) throws ManifestException {
      if (!(root instanceof MappingNode)) {
        problem(root, "expected a mapping with the keys initial, terminal and states, found " + describe(root));
        throw new ManifestException(problems);
      }
      Map<String, NodeTuple> keys = keys((MappingNode) root, ROOT_KEYS, "");
      String initial = string(keys.get("initial"), "initial");
      String terminal = string(keys.get("terminal"), "terminal");
      if (!keys.containsKey("initial")) {
        problem(root, "missing key 'initial': the state entered at start");
      }
      if (!keys.containsKey("terminal")) {
        problem(root, "missing key 'terminal': the state entered on DIE, SIGTERM or SIGINT");
      }

      Map<String, StateSpec> states = new LinkedHashMap<>();
      Map<String, Node> declared = new HashMap<>();
      List<NodeTuple> nexts = new ArrayList<>();
      int declaredItems = 0;
      int unnamed = 0;
      NodeTuple statesTuple = keys.get("states");
      if (statesTuple == null) {
        problem(root, "missing key 'states': the list of states");
      } else {
        Node list = statesTuple.getValueNode();
        if (!(list instanceof SequenceNode)) {
          problem(list, "'states' must be a list of states (each a mapping with at least 'tag'), found " + describe(list));
        } else if (((SequenceNode) list).getValue().isEmpty()) {
          problem(list, "'states' is empty: a manifest needs at least one state");
        } else {
          for (Node item : ((SequenceNode) list).getValue()) {
            declaredItems++;
            if (!state(item, states, declared, nexts)) {
              unnamed++;
            }
          }
        }
      }

      if (declaredItems == 0 || unnamed > 0) {
        // without a complete list of states, "names no state" would only be noise
        throw new ManifestException(problems);
      }
      check(keys.get("initial"), initial, states, "initial");
      check(keys.get("terminal"), terminal, states, "terminal");
      for (NodeTuple t : nexts) {
        for (Node entry : ((SequenceNode) t.getValueNode()).getValue()) {
          if (!(entry instanceof ScalarNode) || !isString(entry)) {
            continue; // already reported
          }
          String pattern = ((ScalarNode) entry).getValue();
          if (Glob.isLiteral(pattern)) {
            if (!states.containsKey(pattern)) {
              problem(entry, "'next' names no state: '" + pattern + "'" + suggest(pattern, states.keySet()));
            }
          } else if (states.keySet().stream().noneMatch(Glob.of(pattern)::matches)) {
            warnings.add(at(name, entry, "the pattern '" + pattern + "' matches no state"));
          }
        }
      }
      if (!problems.isEmpty()) {
        throw new ManifestException(problems);
      }

      StateSpec terminalSpec = states.get(terminal);
      if (!terminalSpec.next().isEmpty()) {
        warnings.add(at(name, declared.get(terminal),
            "'" + terminal + "' is the terminal state: no transition leaves it, its 'next' list is ignored"));
      }
      // every state some non-terminal state lists: each pattern is matched once against all the
      // states (a literal is one lookup), so a manifest of thousands of states checks in moments
      Set<String> listed = new HashSet<>();
      for (StateSpec spec : states.values()) {
        if (spec.tag().equals(terminal)) {
          continue;
        }
        for (Glob g : spec.next()) {
          if (g.isLiteral()) {
            listed.add(g.pattern());
          } else {
            for (String tag : states.keySet()) {
              if (g.matches(tag)) {
                listed.add(tag);
              }
            }
          }
        }
      }
      for (String tag : states.keySet()) {
        if (tag.equals(initial) || tag.equals(terminal)) {
          continue;
        }
        if (!listed.contains(tag)) {
          warnings.add(at(name, declared.get(tag), "no state lists '" + tag + "' in its 'next': it can never be entered"));
        }
      }
      return new Manifest(source, initial, terminal, states, warnings);
    }

    /** Validates one state; false when it has no usable name (so references cannot be checked). */
    private boolean state(Node item, Map<String, StateSpec> states, Map<String, Node> declared, List<NodeTuple> nexts) {
      if (!(item instanceof MappingNode)) {
        problem(item, "a state must be a mapping with at least 'tag', found " + describe(item));
        return false;
      }
      Map<String, NodeTuple> keys = keys((MappingNode) item, STATE_KEYS, "state ");
      NodeTuple tagTuple = keys.get("tag");
      if (tagTuple == null) {
        problem(item, "missing key 'tag': every state needs a name");
      }
      String tag = string(tagTuple, "tag");
      boolean named = tag != null;
      if (tag != null) {
        if (tag.isEmpty() || !tag.codePoints().allMatch(c -> c > ' ' && c != 0x7f && !Character.isWhitespace(c))) {
          problem(tagTuple.getValueNode(), "a state tag must be a non-empty word without spaces: '" + tag + "'");
          tag = null;
          named = false;
        } else if (declared.containsKey(tag)) {
          Node first = declared.get(tag);
          problem(tagTuple.getValueNode(), "duplicate state '" + tag + "' (first declared at line "
              + first.getStartMark().map(m -> m.getLine() + 1).orElse(0) + ")");
          tag = null;
        } else {
          declared.put(tag, tagTuple.getValueNode());
        }
      }

      Optional<String> shell = Optional.empty();
      NodeTuple shellTuple = keys.get("shell");
      if (shellTuple != null && !isNull(shellTuple.getValueNode())) {
        String s = string(shellTuple, "shell");
        shell = Optional.ofNullable(s);
      }

      List<Glob> next = new ArrayList<>();
      NodeTuple nextTuple = keys.get("next");
      if (nextTuple != null && !isNull(nextTuple.getValueNode())) {
        Node value = nextTuple.getValueNode();
        if (!(value instanceof SequenceNode)) {
          String hint = value instanceof ScalarNode ? "; write next: [" + ((ScalarNode) value).getValue() + "]" : "";
          problem(value, "'next' must be a list of state names or patterns, found " + describe(value) + hint);
        } else {
          nexts.add(nextTuple);
          for (Node entry : ((SequenceNode) value).getValue()) {
            if (entry instanceof ScalarNode && isString(entry)) {
              next.add(Glob.of(((ScalarNode) entry).getValue()));
            } else {
              problem(entry, "a 'next' entry must be a state name or pattern, found " + describe(entry));
            }
          }
        }
      }

      boolean force = false;
      NodeTuple forceTuple = keys.get("force");
      if (forceTuple != null) {
        Node value = forceTuple.getValueNode();
        if (value instanceof ScalarNode && Tag.BOOL.equals(value.getTag())) {
          force = Boolean.parseBoolean(((ScalarNode) value).getValue().toLowerCase(java.util.Locale.ROOT));
        } else {
          problem(value, "'force' must be true or false, found " + describe(value));
        }
      }

      if (tag != null) {
        int line = item.getStartMark().map(m -> m.getLine() + 1).orElse(0);
        states.put(tag, new StateSpec(tag, shell, next, force, line));
      }
      return named;
    }

    /** The keys of a mapping; reports non-string, duplicate and unknown keys. */
    private Map<String, NodeTuple> keys(MappingNode map, Set<String> allowed, String where) {
      Map<String, NodeTuple> out = new LinkedHashMap<>();
      for (NodeTuple t : map.getValue()) {
        Node k = t.getKeyNode();
        if (!(k instanceof ScalarNode) || !isString(k)) {
          problem(k, "expected a key name, found " + describe(k));
          continue;
        }
        String key = ((ScalarNode) k).getValue();
        if (!allowed.contains(key)) {
          problem(k, "unknown " + where + "key '" + key + "': expected one of " + String.join(", ", sorted(allowed)));
          continue;
        }
        NodeTuple previous = out.putIfAbsent(key, t);
        if (previous != null) {
          problem(k, "duplicate key '" + key + "' (first at line "
              + previous.getKeyNode().getStartMark().map(m -> m.getLine() + 1).orElse(0) + ")");
        }
      }
      return out;
    }

    /** The string value of a tuple, or null (with a problem) when it is not a string. */
    private String string(NodeTuple t, String key) {
      if (t == null) {
        return null;
      }
      Node v = t.getValueNode();
      if (v instanceof ScalarNode && isString(v)) {
        return ((ScalarNode) v).getValue();
      }
      String hint = v instanceof ScalarNode && !isNull(v) ? " (quote it to make it a string)" : "";
      problem(v, "'" + key + "' must be a string, found " + describe(v) + hint);
      return null;
    }

    private void check(NodeTuple t, String tag, Map<String, StateSpec> states, String key) {
      if (t != null && tag != null && !states.containsKey(tag)) {
        problem(t.getValueNode(), "'" + key + "' names no state: '" + tag + "'" + suggest(tag, states.keySet()));
      }
    }
  }

  private static List<String> sorted(Set<String> s) {
    List<String> l = new ArrayList<>(s);
    l.sort(null);
    return l;
  }

  private static String suggest(String tag, Set<String> known) {
    if (known.isEmpty()) {
      return "";
    }
    return " (states: " + String.join(", ", known) + ")";
  }

  private static boolean isString(Node n) {
    return Tag.STR.equals(n.getTag());
  }

  private static boolean isNull(Node n) {
    return Tag.NULL.equals(n.getTag());
  }

  private static String describe(Node n) {
    if (n instanceof MappingNode) {
      return "a mapping";
    }
    if (n instanceof SequenceNode) {
      return "a list";
    }
    Tag tag = n.getTag();
    String value = n instanceof ScalarNode ? ((ScalarNode) n).getValue() : "";
    if (Tag.NULL.equals(tag)) {
      return "nothing (null)";
    }
    if (Tag.INT.equals(tag)) {
      return "the integer " + value;
    }
    if (Tag.FLOAT.equals(tag)) {
      return "the number " + value;
    }
    if (Tag.BOOL.equals(tag)) {
      return "the boolean " + value;
    }
    if (Tag.STR.equals(tag)) {
      return "the string '" + value + "'";
    }
    return "a value tagged " + tag.getValue();
  }
}
