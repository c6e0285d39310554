package io.kontrol.agent.identity;

import io.kontrol.agent.config.Env;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pod's annotations as the Kubernetes Downward API projects them into a volume: the file
 * {@code annotations} of the directory {@code KONTROL_PODINFO} (default {@code /etc/podinfo}).
 *
 * <p>The format is the kubelet's: one {@code key="value"} per line, keys sorted, the value quoted
 * as Go's {@code strconv.Quote} does: {@code \" \\ \n \t \a \b \f \r \v}, {@code \xNN} for a byte,
 * a backslash and {@code u} or {@code U} with 4 or 8 hex digits for a code point, and octal
 * {@code \NNN} is accepted too; no newline after the last line. The kubelet replaces the file by swapping the {@code ..data}
 * symlink of the directory; {@code annotations} is a symlink into it. A file that exists is the
 * pod's annotations and wins over {@code KONTROL_ANNOTATIONS}.
 */
public final class PodInfo {

  /** Names the Downward API directory. */
  public static final String VARIABLE = "KONTROL_PODINFO";

  public static final Path DEFAULT_DIR = Path.of("/etc/podinfo");

  /** The file of the directory that holds the annotations. */
  public static final String FILE = "annotations";

  /** Largest file read: Kubernetes refuses a pod whose annotations add up to more than 256 KiB. */
  static final int MAX_BYTES = 1 << 20;

  private static final Logger LOG = LoggerFactory.getLogger(PodInfo.class);

  private PodInfo() {}

  /** The Downward API directory: {@code KONTROL_PODINFO}, else {@code /etc/podinfo}. */
  public static Path dir(Map<String, String> env) {
    return Env.of(env).path(VARIABLE).orElse(DEFAULT_DIR);
  }

  /** The annotations file of {@link #dir}. */
  public static Path file(Map<String, String> env) {
    return dir(env).resolve(FILE);
  }

  /**
   * Reads and parses {@code file}.
   *
   * @return empty when the file does not exist
   * @throws PodInfoException when it cannot be read or a line is malformed (file and line named)
   */
  public static Optional<Map<String, String>> read(Path file) throws PodInfoException {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new PodInfoException(file + ": cannot read: " + e.getMessage(), e);
    }
    if (bytes.length > MAX_BYTES) {
      throw new PodInfoException(file + ": larger than " + (MAX_BYTES >> 10) + " KiB (Kubernetes keeps a pod's annotations under 256 KiB)");
    }
    return Optional.of(parse(bytes, file.toString()));
  }

  /**
   * {@code env} with {@code KONTROL_ANNOTATIONS} replaced by the Downward API file's annotations
   * when that file exists; {@code env} itself when it does not.
   *
   * @throws PodInfoException when the file exists but cannot be read or parsed
   */
  public static Map<String, String> overlay(Map<String, String> env) throws PodInfoException {
    Optional<Map<String, String>> annotations = read(file(env));
    if (annotations.isEmpty()) {
      return env;
    }
    Map<String, String> out = new HashMap<>(env);
    out.put(Annotations.VARIABLE, Annotations.toJson(annotations.get()));
    return Map.copyOf(out);
  }

  /**
   * {@code env} with {@code KONTROL_ANNOTATIONS} from the Downward API file when it exists (it
   * wins over the variable); {@code env} as is, and one log line, when that file is malformed.
   */
  public static Map<String, String> environment(Map<String, String> env) {
    try {
      return overlay(env);
    } catch (PodInfoException e) {
      LOG.warn("annotations from {} ignored, {} used: {}", file(env), Annotations.VARIABLE, e.getMessage());
      return env;
    }
  }

  /**
   * Parses the file's content; {@code source} names it in errors. An empty content is a pod with
   * no annotations; empty lines are skipped.
   */
  public static Map<String, String> parse(byte[] content, String source) throws PodInfoException {
    Map<String, String> out = new TreeMap<>();
    int lineNo = 0;
    int start = 0;
    while (start <= content.length) {
      int end = start;
      while (end < content.length && content[end] != '\n') {
        end++;
      }
      lineNo++;
      if (end > start) {
        parseLine(content, start, end, source, lineNo, out);
      }
      start = end + 1;
    }
    return out;
  }

  private static void parseLine(byte[] b, int start, int end, String source, int lineNo, Map<String, String> out)
      throws PodInfoException {
    int eq = -1;
    for (int i = start; i < end; i++) {
      if (b[i] == '=') {
        eq = i;
        break;
      }
    }
    if (eq < 0) {
      throw bad(source, lineNo, "expected key=\"value\", found no '='");
    }
    String key = new String(b, start, eq - start, StandardCharsets.UTF_8);
    if (key.isEmpty() || !key.strip().equals(key) || key.chars().anyMatch(Character::isWhitespace)) {
      throw bad(source, lineNo, "the key before '=' must be an annotation name without spaces, not '" + key + "'");
    }
    if (out.containsKey(key)) {
      throw bad(source, lineNo, "annotation " + key + " appears twice");
    }
    try {
      out.put(key, unquote(b, eq + 1, end, start));
    } catch (IllegalArgumentException e) {
      throw bad(source, lineNo, "the value of " + key + " " + e.getMessage());
    }
  }

  private static PodInfoException bad(String source, int lineNo, String what) {
    return new PodInfoException(source + " line " + lineNo + ": " + what);
  }

  /** Go's {@code strconv.Unquote} of a double-quoted string; the message says what is wrong, and where. */
  static String unquote(String quoted) {
    byte[] b = quoted.getBytes(StandardCharsets.UTF_8);
    return unquote(b, 0, b.length, 0);
  }

  /** Unquotes {@code b[start, end)}; columns in messages count from {@code lineStart} (1-based). */
  private static String unquote(byte[] b, int start, int end, int lineStart) {
    if (end - start < 2 || b[start] != '"' || b[end - 1] != '"') {
      throw new IllegalArgumentException("must be a double-quoted string (\"...\") ending the line");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(end - start);
    int i = start + 1;
    int last = end - 1;
    while (i < last) {
      int c = b[i] & 0xff;
      int col = i - lineStart + 1;
      if (c == '"') {
        throw new IllegalArgumentException("has an unescaped '\"' at column " + col + " (half-written, or not Go-quoted)");
      }
      if (c != '\\') {
        out.write(c);
        i++;
        continue;
      }
      if (i + 1 >= last) {
        throw new IllegalArgumentException("ends in a lone '\\' at column " + col);
      }
      int e = b[i + 1] & 0xff;
      i += 2;
      switch (e) {
        case 'a' -> out.write(7);
        case 'b' -> out.write('\b');
        case 'f' -> out.write('\f');
        case 'n' -> out.write('\n');
        case 'r' -> out.write('\r');
        case 't' -> out.write('\t');
        case 'v' -> out.write(11);
        case '\\' -> out.write('\\');
        case '"' -> out.write('"');
        case 'x' -> {
          out.write(hex(b, i, 2, last, col, "\\x"));
          i += 2;
        }
        case 'u', 'U' -> {
          int n = e == 'u' ? 4 : 8;
          int cp = hex(b, i, n, last, col, "\\" + (char) e);
          if (cp < 0 || cp > Character.MAX_CODE_POINT || (cp >= 0xD800 && cp <= 0xDFFF)) {
            throw new IllegalArgumentException("has \\" + (char) e + " at column " + col + " naming no Unicode character");
          }
          out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
          i += n;
        }
        case '0', '1', '2', '3', '4', '5', '6', '7' -> {
          int v = e - '0';
          for (int k = 0; k < 2; k++) {
            int d = i < last ? (b[i] & 0xff) - '0' : -1;
            if (d < 0 || d > 7) {
              throw new IllegalArgumentException("has an octal escape at column " + col + " without 3 digits");
            }
            v = v * 8 + d;
            i++;
          }
          if (v > 255) {
            throw new IllegalArgumentException("has an octal escape at column " + col + " above \\377");
          }
          out.write(v);
        }
        default -> throw new IllegalArgumentException(
            "has an unknown escape '\\" + (char) e + "' at column " + col + " (Go quoting knows \\\" \\\\ \\n \\t \\xNN \\uNNNN ...)");
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static int hex(byte[] b, int at, int n, int last, int col, String escape) {
    if (at + n > last) {
      throw new IllegalArgumentException("has " + escape + " at column " + col + " without " + n + " hex digits");
    }
    int v = 0;
    for (int k = 0; k < n; k++) {
      int d = Character.digit(b[at + k] & 0xff, 16);
      if (d < 0) {
        throw new IllegalArgumentException("has " + escape + " at column " + col + " without " + n + " hex digits");
      }
      v = v * 16 + d;
    }
    return v;
  }
}
