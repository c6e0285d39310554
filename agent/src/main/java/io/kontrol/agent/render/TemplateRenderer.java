package io.kontrol.agent.render;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.InterpretException;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TextNode;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders Jinja2 templates with Jinjava, configured to behave as Jinja2 does for what the
 * service images use ({@code {%- %}} whitespace control, {@code loop.index}, {@code for key in
 * dict}, {@code sort}...).
 *
 * <p>Jinjava is lenient by default: an unknown filter or a syntax error is only recorded next to
 * the output, which is still produced. A config file half-rendered that way would be applied by
 * a lifecycle script, so every error Jinjava records is a failure here; in strict mode an
 * undefined variable is one too (Jinja2's {@code StrictUndefined}).
 *
 * <p>Known differences from Jinja2 (keep templates clear of them): loop filters
 * ({@code for x in xs if cond}) are not applied, use an {@code if} inside the loop; a
 * {@code {%- } right after a comment also eats the newline before the comment.
 *
 * <p>Not thread-safe: one render at a time per instance.
 */
public final class TemplateRenderer {

  private static final Pattern STRING_LITERAL = Pattern.compile("'(?:[^'\\\\]|\\\\.)*'|\"(?:[^\"\\\\]|\\\\.)*\"");
  private static final Pattern FILTER = Pattern.compile("\\|\\s*([A-Za-z_][A-Za-z0-9_]*)");

  private final Jinjava jinjava;
  private final boolean strict;

  /** Names the template used but nobody defined, during the current render. */
  private final Set<String> undefined = new LinkedHashSet<>();

  private TemplateRenderer(boolean strict) {
    this.strict = strict;
    this.jinjava =
        new Jinjava(
            JinjavaConfig.newBuilder()
                // Jinja2: trim_blocks and lstrip_blocks off; `for key in dict` walks the keys.
                .withTrimBlocks(false)
                .withLstripBlocks(false)
                .withIterateOverMapKeys(true)
                // a config file keeps its final newline (Jinja2's keep_trailing_newline=True)
                .withKeepTrailingNewline(true)
                .build());
    // Jinjava's own failOnUnknownTokens also rejects valid expressions such as hosts[key]; an
    // undefined variable is exactly a name that reaches the dynamic resolver, so note it there.
    if (strict) {
      jinjava
          .getGlobalContext()
          .setDynamicVariableResolver(
              name -> {
                undefined.add(name);
                return null;
              });
    }
  }

  /** Undefined variables are errors (the default for config files). */
  public static TemplateRenderer strict() {
    return new TemplateRenderer(true);
  }

  /** Undefined variables render as empty, as in Jinja2's default {@code Undefined}. */
  public static TemplateRenderer lenient() {
    return new TemplateRenderer(false);
  }

  /**
   * Renders {@code template} with {@code variables}.
   *
   * @throws RenderException naming the first error and its template line, when anything failed
   */
  public String render(String template, Map<String, ?> variables) throws RenderException {
    Objects.requireNonNull(template, "template");
    Objects.requireNonNull(variables, "variables");
    checkFilters(template);
    RenderResult result;
    undefined.clear();
    try {
      result = jinjava.renderForResult(template, variables);
    } catch (RuntimeException e) {
      // strict mode raises unknown tokens as exceptions rather than recording them
      throw new RenderException(describe(e), lineOf(e));
    }
    // every recorded error (fatal or "warning") changed what was rendered: refuse the output
    List<TemplateError> errors = result.getErrors();
    if (!errors.isEmpty()) {
      TemplateError first = errors.get(0);
      throw new RenderException(first.getMessage(), first.getLineno());
    }
    if (strict && !undefined.isEmpty()) {
      throw new RenderException("undefined variable(s): " + String.join(", ", undefined), -1);
    }
    return result.getOutput();
  }

  /**
   * Jinjava renders an unknown filter as an empty string without a word; Jinja2 refuses the
   * template ("no filter named ..."). Check every filter named in an expression or a tag before
   * rendering, whether or not that branch would run, as Jinja2's compiler does.
   */
  private void checkFilters(String template) throws RenderException {
    Node root;
    try {
      root = jinjava.newInterpreter().parse(template);
    } catch (RuntimeException e) {
      return; // a template that does not parse is reported by the render itself, with its line
    }
    Deque<Node> pending = new ArrayDeque<>(List.of(root));
    while (!pending.isEmpty()) {
      Node node = pending.pop();
      pending.addAll(node.getChildren());
      if (node instanceof TextNode || node.getMaster() == null) {
        continue;
      }
      // string literals may hold a '|' of their own
      String code = STRING_LITERAL.matcher(node.getMaster().getImage()).replaceAll("''");
      Matcher filter = FILTER.matcher(code);
      while (filter.find()) {
        String name = filter.group(1);
        if (jinjava.getGlobalContext().getFilter(name) == null) {
          throw new RenderException("no filter named '" + name + "'", node.getLineNumber());
        }
      }
    }
  }

  private static String describe(Throwable e) {
    String message = e.getMessage();
    return message == null ? e.getClass().getSimpleName() : message;
  }

  private static int lineOf(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof InterpretException) {
        int line = ((InterpretException) t).getLineNumber();
        if (line > 0) {
          return line;
        }
      }
    }
    return -1;
  }
}
