package io.kontrol.agent.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.difflib.DiffUtils;
import com.github.difflib.UnifiedDiffUtils;
import io.kontrol.agent.identity.Annotations;
import io.kontrol.agent.render.AtomicFile;
import io.kontrol.agent.render.CommandCheck;
import io.kontrol.agent.render.RenderException;
import io.kontrol.agent.render.RenderStatus;
import io.kontrol.agent.render.TemplateRenderer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol render}: a Jinja2 template (a file, or a pod annotation) plus JSON variables to a
 * file, replaced atomically, or left untouched when rendering fails.
 *
 * <p>Exit codes: 0 rendered, 1 the template failed to render (the target is unchanged), 2 bad
 * input (no template, unreadable or invalid variables).
 */
@Command(
    name = "render",
    mixinStandardHelpOptions = true,
    description = {
      "Render a Jinja2 template (a pod annotation, else a file) with JSON variables to a file,"
          + " atomically.",
      "The environment is available as the variable 'env'. When rendering fails the output file"
          + " is left as it was and the command exits 1."
    })
public final class RenderCommand implements Callable<Integer> {

  static final int RENDER_FAILED = 1;
  static final int BAD_INPUT = 2;

  private static final ObjectMapper JSON = new ObjectMapper();

  static final class Source {
    @Option(
        names = {"-a", "--annotation"},
        paramLabel = "NAME",
        description =
            "pod annotation holding the template, e.g. nats.unity3d.com/config; when the pod has"
                + " no such annotation, --template is used")
    String annotation;

    @Option(names = {"-t", "--template"}, paramLabel = "FILE", description = "template file")
    Path file;
  }

  @ArgGroup(exclusive = false, multiplicity = "1")
  Source source;

  @Option(
      names = "--check",
      paramLabel = "COMMAND",
      description =
          "validate the rendered file before it replaces the output, e.g. 'nats-server -t -c {}'"
              + " ({} is the rendered file); a non-zero exit is a failure")
  String check;

  @Option(names = "--check-timeout", paramLabel = "SECONDS", defaultValue = "30", description = "default: ${DEFAULT-VALUE}")
  int checkTimeout;

  @Option(
      names = "--vars",
      paramLabel = "JSON",
      description = "variables as a JSON object; repeatable, later objects win")
  List<String> vars = List.of();

  @Option(names = "--vars-file", paramLabel = "FILE", description = "variables from a JSON file")
  Path varsFile;

  @Option(
      names = {"-o", "--output"},
      required = true,
      paramLabel = "FILE",
      description = "file to write ('-' for stdout)")
  String output;

  @Option(
      names = "--lenient",
      description = "undefined variables render as empty instead of failing")
  boolean lenient;

  @Option(
      names = "--status-file",
      paramLabel = "FILE",
      description =
          "JSON file (the pod's KONTROL_PAYLOAD) where a failure is reported as"
              + " \"config_error\", and cleared on success")
  Path statusFile;

  @Option(
      names = "--dry-run",
      description =
          "render and check as for real, print the result and a diff against the output file,"
              + " and change nothing (no file written, no status reported)")
  boolean dryRun;

  @Spec CommandSpec spec;

  @ParentCommand KontrolCommand parent;

  private final Map<String, String> ownEnv;

  public RenderCommand() {
    this(System.getenv());
  }

  RenderCommand(Map<String, String> env) {
    this.ownEnv = env;
  }

  /** The environment: the top command's (injected in tests) when run as `kontrol render`. */
  private Map<String, String> env() {
    return parent != null ? parent.env() : ownEnv;
  }

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    Template template;
    Map<String, Object> variables;
    try {
      template = template();
      variables = variables();
    } catch (BadInput e) {
      err.println("kontrol render: " + e.getMessage());
      err.flush();
      return BAD_INPUT;
    }

    if (dryRun && "-".equals(output)) {
      err.println("kontrol render: --dry-run compares with the output file: give -o FILE, not '-'");
      err.flush();
      return BAD_INPUT;
    }
    String rendered;
    try {
      rendered =
          (lenient ? TemplateRenderer.lenient() : TemplateRenderer.strict()).render(template.text, variables);
      if (dryRun) {
        return dryRun(template.name, rendered);
      } else if ("-".equals(output)) {
        PrintWriter out = spec.commandLine().getOut();
        out.print(rendered);
        out.flush();
      } else if (check == null) {
        AtomicFile.write(Path.of(output), rendered);
      } else {
        AtomicFile.write(Path.of(output), rendered, new CommandCheck(check, Duration.ofSeconds(checkTimeout)));
      }
    } catch (RenderException e) {
      String message = template.name + ": " + e.getMessage();
      err.println("kontrol render: " + message + "; " + output + " left unchanged");
      err.flush();
      report(err, message);
      return RENDER_FAILED;
    } catch (IOException e) {
      err.println("kontrol render: cannot write " + output + ": " + e.getMessage());
      err.flush();
      report(err, "cannot write " + output + ": " + e.getMessage());
      return RENDER_FAILED;
    }
    report(err, null);
    return 0;
  }

  /** Renders nothing to disk: the check runs on a staged copy that is removed; prints text and diff. */
  private int dryRun(String templateName, String rendered) throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (check != null) {
      Path staged = Files.createTempFile("kontrol-render-dry-run-", ".staged");
      try {
        Files.writeString(staged, rendered, StandardCharsets.UTF_8);
        new CommandCheck(check, Duration.ofSeconds(checkTimeout)).verify(staged);
      } catch (RenderException e) {
        err.println("kontrol render: " + templateName + ": " + e.getMessage() + " (dry run: nothing changed)");
        err.flush();
        return RENDER_FAILED;
      } finally {
        Files.deleteIfExists(staged);
      }
    }
    out.print(rendered);
    if (!rendered.isEmpty() && !rendered.endsWith("\n")) {
      out.println();
    }
    Path live = Path.of(output);
    List<String> before = Files.exists(live) ? Files.readAllLines(live, StandardCharsets.UTF_8) : List.of();
    List<String> after = rendered.lines().toList();
    List<String> diff =
        UnifiedDiffUtils.generateUnifiedDiff(
            Files.exists(live) ? output + " (live)" : "/dev/null",
            output + " (rendered)",
            before,
            DiffUtils.diff(before, after),
            3);
    if (diff.isEmpty()) {
      out.println("# " + output + " is up to date: rendering it would change nothing");
    } else {
      diff.forEach(out::println);
    }
    out.flush();
    err.println("kontrol render: dry run: " + output + (diff.isEmpty() ? " unchanged" : " would change") + "; nothing written");
    err.flush();
    return 0;
  }

  private void report(PrintWriter err, String failure) {
    if (statusFile == null || dryRun) {
      return;
    }
    try {
      RenderStatus status = new RenderStatus(statusFile);
      if (failure == null) {
        status.succeeded();
      } else {
        status.failed(failure);
      }
    } catch (IOException e) {
      err.println("kontrol render: cannot update " + statusFile + ": " + e.getMessage());
      err.flush();
    }
  }

  private record Template(String name, String text) {}

  private Template template() throws BadInput {
    if (source.annotation != null) {
      Map<String, String> annotations;
      try {
        annotations = Annotations.current(env());
      } catch (IllegalArgumentException e) {
        throw new BadInput(e.getMessage());
      }
      String text = annotations.get(source.annotation);
      if (text != null) {
        return new Template("annotation " + source.annotation, text);
      }
      if (source.file == null) {
        throw new BadInput("the pod has no annotation " + source.annotation);
      }
    }
    try {
      return new Template(source.file.toString(), Files.readString(source.file, StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      throw new BadInput("template " + source.file + " does not exist");
    } catch (IOException e) {
      throw new BadInput("cannot read template " + source.file + ": " + e.getMessage());
    }
  }

  private Map<String, Object> variables() throws BadInput {
    Map<String, Object> variables = new LinkedHashMap<>();
    variables.put("env", env());
    if (varsFile != null) {
      String text;
      try {
        text = Files.readString(varsFile, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new BadInput("cannot read variables file " + varsFile + ": " + e.getMessage());
      }
      variables.putAll(parse(text, "variables file " + varsFile));
    }
    for (String json : vars) {
      variables.putAll(parse(json, "--vars"));
    }
    return variables;
  }

  private static Map<String, Object> parse(String json, String what) throws BadInput {
    try {
      Map<String, Object> parsed = JSON.readValue(json, new TypeReference<LinkedHashMap<String, Object>>() {});
      if (parsed == null) {
        throw new BadInput(what + " must be a JSON object, got null");
      }
      return parsed;
    } catch (JsonProcessingException e) {
      throw new BadInput(what + " is not a JSON object: " + e.getOriginalMessage());
    }
  }

  private static final class BadInput extends Exception {
    private static final long serialVersionUID = 1L;

    BadInput(String message) {
      super(message);
    }
  }
}
