package io.kontrol.automaton.manifest;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A shell-style pattern over state tags, with the semantics of Python's {@code fnmatch.fnmatch}
 * on POSIX (what the original automaton used): {@code *} matches any run of characters, {@code ?}
 * one character, {@code [abc]}/{@code [a-z]} one of a set, {@code [!abc]} one not in it; an
 * unclosed {@code [} is literal; matching is case-sensitive.
 */
public final class Glob {

  private final String pattern;
  private final Pattern regex;
  private final boolean literal;

  private Glob(String pattern) {
    this.pattern = pattern;
    this.literal = isLiteral(pattern);
    this.regex = literal ? null : Pattern.compile(translate(pattern), Pattern.DOTALL);
  }

  public static Glob of(String pattern) {
    return new Glob(Objects.requireNonNull(pattern, "pattern"));
  }

  /** True when the pattern has no special character: it can only match itself. */
  public static boolean isLiteral(String pattern) {
    for (int i = 0; i < pattern.length(); i++) {
      char c = pattern.charAt(i);
      if (c == '*' || c == '?' || c == '[') {
        return false;
      }
    }
    return true;
  }

  public boolean isLiteral() {
    return literal;
  }

  public String pattern() {
    return pattern;
  }

  public boolean matches(String tag) {
    return literal ? pattern.equals(tag) : regex.matcher(tag).matches();
  }

  /** The regular expression equivalent to a glob, as {@code fnmatch.translate} builds it. */
  static String translate(String glob) {
    StringBuilder re = new StringBuilder();
    int i = 0;
    int n = glob.length();
    while (i < n) {
      char c = glob.charAt(i++);
      if (c == '*') {
        re.append(".*");
      } else if (c == '?') {
        re.append('.');
      } else if (c == '[') {
        int j = i;
        if (j < n && glob.charAt(j) == '!') {
          j++;
        }
        if (j < n && glob.charAt(j) == ']') {
          j++;
        }
        while (j < n && glob.charAt(j) != ']') {
          j++;
        }
        if (j >= n) {
          re.append("\\[");
        } else {
          String set = glob.substring(i, j);
          i = j + 1;
          re.append(characterClass(set));
        }
      } else {
        re.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return re.toString();
  }

  /**
   * The regular expression of one {@code [...]} set (its text without the brackets), as Python 3's
   * {@code fnmatch} reads it: ranges left to right, a reversed range ({@code [z-a]}) matches
   * nothing rather than being an error, a set left with nothing matches nothing ({@code [!...]}:
   * any one character).
   */
  private static String characterClass(String set) {
    boolean negated = set.startsWith("!");
    int[] cps = set.codePoints().skip(negated ? 1 : 0).toArray();
    StringBuilder body = new StringBuilder();
    for (int k = 0; k < cps.length; k++) {
      int first = cps[k];
      if (k + 2 < cps.length && cps[k + 1] == '-') {
        int last = cps[k + 2];
        k += 2;
        if (first <= last) {
          body.append(classChar(first)).append('-').append(classChar(last));
        }
      } else {
        body.append(classChar(first));
      }
    }
    if (body.length() == 0) {
      return negated ? "." : "(?!)";
    }
    return (negated ? "[^" : "[") + body + "]";
  }

  /** One character inside a class: anything but a letter or digit is escaped (always legal). */
  private static String classChar(int cp) {
    String c = new String(Character.toChars(cp));
    return Character.isLetterOrDigit(cp) ? c : "\\" + c;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Glob && ((Glob) o).pattern.equals(pattern);
  }

  @Override
  public int hashCode() {
    return pattern.hashCode();
  }

  @Override
  public String toString() {
    return pattern;
  }
}
