package io.kontrol.agent.metrics;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A strict parser of Prometheus' text exposition format 0.0.4, for tests: every line must be a
 * {@code # HELP}, a {@code # TYPE} or a sample, exactly as the format says; anything else throws
 * with the line number. Also enforced: at most one HELP and one TYPE per family, TYPE before its
 * samples, a family's samples together, sample names that fit the family's type (counter {@code
 * _total}, summary {@code _sum}/{@code _count}/quantiles, histogram {@code _bucket} with {@code
 * le}), escapes in label values, no duplicate series, one label-name set per sample name, and a
 * final newline.
 */
public final class PrometheusText {

  private static final Pattern METRIC = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
  private static final Set<String> TYPES = Set.of("counter", "gauge", "histogram", "summary", "untyped");

  /** One sample: its name, labels (sorted) and value. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final List<Sample> samples;
  private final Map<String, String> types;

  private PrometheusText(List<Sample> samples, Map<String, String> types) {
    this.samples = samples;
    this.types = types;
  }

  public List<Sample> samples() {
    return samples;
  }

  /** family name → type, as declared. */
  public Map<String, String> types() {
    return types;
  }

  /** The samples named {@code name}. */
  public List<Sample> named(String name) {
    return samples.stream().filter(s -> s.name.equals(name)).toList();
  }

  /** The value of the one sample {@code name} whose labels include {@code labels}. */
  public Optional<Double> value(String name, Map<String, String> labels) {
    List<Sample> m =
        named(name).stream().filter(s -> s.labels.entrySet().containsAll(labels.entrySet())).toList();
    if (m.size() > 1) {
      throw new IllegalArgumentException(m.size() + " samples of " + name + " match " + labels);
    }
    return m.stream().findFirst().map(Sample::value);
  }

  public static PrometheusText parse(String text) {
    if (!text.isEmpty() && !text.endsWith("\n")) {
      throw new IllegalArgumentException("the exposition does not end with a newline");
    }
    List<Sample> samples = new ArrayList<>();
    Map<String, String> types = new LinkedHashMap<>();
    Set<String> helps = new HashSet<>();
    Set<String> closed = new HashSet<>(); // families whose samples are over
    Set<String> series = new HashSet<>();
    Map<String, Set<String>> labelSets = new HashMap<>();
    String current = null;
    String[] lines = text.split("\n", -1);
    for (int i = 0; i < lines.length - 1; i++) {
      String line = lines[i];
      int n = i + 1;
      if (line.startsWith("#")) {
        String[] p = line.split(" ", 4);
        if (p.length >= 3 && p[0].equals("#") && (p[1].equals("HELP") || p[1].equals("TYPE"))) {
          String family = p[2];
          if (!METRIC.matcher(family).matches()) {
            throw bad(n, line, "bad metric name " + family);
          }
          if (closed.contains(family) || family.equals(current)) {
            throw bad(n, line, p[1] + " after samples of " + family);
          }
          if (p[1].equals("HELP")) {
            if (!helps.add(family)) {
              throw bad(n, line, "second HELP for " + family);
            }
            if (p.length == 4) {
              checkEscapes(n, line, p[3], false);
            }
          } else {
            if (p.length != 4 || !TYPES.contains(p[3])) {
              throw bad(n, line, "TYPE needs one of " + TYPES);
            }
            if (types.put(family, p[3]) != null) {
              throw bad(n, line, "second TYPE for " + family);
            }
          }
          continue;
        }
        if (line.startsWith("# HELP") || line.startsWith("# TYPE")) {
          throw bad(n, line, "malformed HELP/TYPE");
        }
        continue; // a plain comment
      }
      if (line.isEmpty()) {
        throw bad(n, line, "empty line");
      }
      Sample s = sample(n, line);
      String family = familyOf(s.name, types);
      if (!family.equals(current)) {
        if (current != null) {
          closed.add(current);
        }
        if (closed.contains(family)) {
          throw bad(n, line, "samples of " + family + " are not together");
        }
        current = family;
      }
      String type = types.getOrDefault(family, "untyped");
      checkName(n, line, s, family, type);
      if (!series.add(s.name + s.labels)) {
        throw bad(n, line, "duplicate series");
      }
      Set<String> keys = new TreeMap<>(s.labels).keySet();
      keys = new HashSet<>(keys);
      keys.remove("le");
      keys.remove("quantile");
      Set<String> before = labelSets.putIfAbsent(s.name, keys);
      if (before != null && !before.equals(keys)) {
        throw bad(n, line, "label names " + keys + " differ from " + before + " of the same metric");
      }
      samples.add(s);
    }
    return new PrometheusText(samples, types);
  }

  private static String familyOf(String name, Map<String, String> types) {
    if (types.containsKey(name)) {
      return name;
    }
    for (String suffix : List.of("_total", "_created", "_sum", "_count", "_bucket")) {
      if (name.endsWith(suffix)) {
        String f = name.substring(0, name.length() - suffix.length());
        if (types.containsKey(f)) {
          return f;
        }
      }
    }
    return name;
  }

  private static void checkName(int n, String line, Sample s, String family, String type) {
    String suffix = s.name.substring(family.length());
    boolean ok =
        switch (type) {
          case "counter" -> suffix.isEmpty() && family.endsWith("_total") || suffix.equals("_total") || suffix.equals("_created");
          case "gauge", "untyped" -> suffix.isEmpty();
          case "summary" -> suffix.equals("_sum") || suffix.equals("_count") || suffix.isEmpty() && s.labels.containsKey("quantile");
          case "histogram" -> suffix.equals("_sum") || suffix.equals("_count") || suffix.equals("_bucket") && s.labels.containsKey("le");
          default -> false;
        };
    if (!ok) {
      throw bad(n, line, "sample " + s.name + " does not fit " + type + " " + family);
    }
  }

  private static Sample sample(int n, String line) {
    int i = 0;
    while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
      i++;
    }
    String name = line.substring(0, i);
    if (!METRIC.matcher(name).matches()) {
      throw bad(n, line, "bad metric name '" + name + "'");
    }
    Map<String, String> labels = new TreeMap<>();
    if (i < line.length() && line.charAt(i) == '{') {
      i++;
      while (true) {
        if (i < line.length() && line.charAt(i) == '}') {
          i++;
          break;
        }
        int eq = line.indexOf('=', i);
        if (eq < 0) {
          throw bad(n, line, "label without '='");
        }
        String label = line.substring(i, eq);
        if (!LABEL.matcher(label).matches() || label.startsWith("__")) {
          throw bad(n, line, "bad label name '" + label + "'");
        }
        if (eq + 1 >= line.length() || line.charAt(eq + 1) != '"') {
          throw bad(n, line, "label value must be quoted");
        }
        StringBuilder v = new StringBuilder();
        int j = eq + 2;
        for (; ; j++) {
          if (j >= line.length()) {
            throw bad(n, line, "unterminated label value");
          }
          char c = line.charAt(j);
          if (c == '\\') {
            char e = j + 1 < line.length() ? line.charAt(j + 1) : 0;
            if (e == '\\' || e == '"') {
              v.append(e);
            } else if (e == 'n') {
              v.append('\n');
            } else {
              throw bad(n, line, "bad escape \\" + e);
            }
            j++;
          } else if (c == '"') {
            break;
          } else {
            v.append(c);
          }
        }
        if (labels.put(label, v.toString()) != null) {
          throw bad(n, line, "label " + label + " twice");
        }
        i = j + 1;
        if (i < line.length() && line.charAt(i) == ',') {
          i++;
        } else if (i >= line.length() || line.charAt(i) != '}') {
          throw bad(n, line, "expected ',' or '}' after a label");
        }
      }
    }
    if (i >= line.length() || line.charAt(i) != ' ') {
      throw bad(n, line, "expected one space before the value");
    }
    String[] rest = line.substring(i + 1).split(" ", -1);
    if (rest.length < 1 || rest.length > 2) {
      throw bad(n, line, "expected a value and an optional timestamp");
    }
    double value = value(n, line, rest[0]);
    if (rest.length == 2 && !rest[1].matches("-?\\d+")) {
      throw bad(n, line, "bad timestamp '" + rest[1] + "'");
    }
    return new Sample(name, labels, value);
  }

  private static double value(int n, String line, String v) {
    switch (v) {
      case "NaN":
        return Double.NaN;
      case "+Inf":
        return Double.POSITIVE_INFINITY;
      case "-Inf":
        return Double.NEGATIVE_INFINITY;
      default:
        if (!v.matches("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?")) {
          throw bad(n, line, "bad value '" + v + "'");
        }
        return Double.parseDouble(v);
    }
  }

  private static void checkEscapes(int n, String line, String doc, boolean quotes) {
    for (int j = 0; j < doc.length(); j++) {
      if (doc.charAt(j) == '\\') {
        char e = j + 1 < doc.length() ? doc.charAt(j + 1) : 0;
        if (e != '\\' && e != 'n' && !(quotes && e == '"')) {
          throw bad(n, line, "bad escape in HELP");
        }
        j++;
      }
    }
  }

  private static IllegalArgumentException bad(int n, String line, String why) {
    return new IllegalArgumentException("line " + n + ": " + why + ": " + line);
  }
}
