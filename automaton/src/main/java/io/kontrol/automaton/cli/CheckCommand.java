package io.kontrol.automaton.cli;

import io.kontrol.automaton.manifest.Glob;
import io.kontrol.automaton.manifest.Manifest;
import io.kontrol.automaton.manifest.ManifestException;
import io.kontrol.automaton.manifest.ManifestLoader;
import io.kontrol.automaton.manifest.Problem;
import io.kontrol.automaton.manifest.StateSpec;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code automaton check MANIFEST}: validates and prints the states and allowed transitions. */
@Command(
    name = "check",
    mixinStandardHelpOptions = true,
    versionProvider = Version.class,
    usageHelpAutoWidth = true,
    description = "Validates a manifest and prints its states and the transitions each allows.",
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:valid (warnings, if any, on stderr)",
      "1:invalid: each problem on stderr as file:line:column: reason",
      "2:usage error"
    })
final class CheckCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "MANIFEST", description = "the YAML manifest")
  Path manifest;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Manifest m;
    try {
      m = ManifestLoader.load(manifest);
    } catch (ManifestException e) {
      for (Problem p : e.problems()) {
        err.println(p);
      }
      err.flush();
      return 1;
    }
    for (Problem w : m.warnings()) {
      err.println(w.file() + ":" + w.line() + ":" + w.column() + ": warning: " + w.reason());
    }
    err.flush();

    out.println(manifest + ": valid, " + m.states().size() + (m.states().size() == 1 ? " state" : " states"));
    out.println("initial:  " + m.initial());
    out.println("terminal: " + m.terminal());
    int width = m.states().keySet().stream().mapToInt(String::length).max().orElse(0);
    for (StateSpec s : m.states().values()) {
      StringBuilder b = new StringBuilder("  ");
      b.append(String.format("%-" + width + "s", s.tag())).append(" -> ");
      List<String> targets = m.targets(s.tag());
      b.append(targets.isEmpty() ? "(none)" : String.join(", ", targets));
      boolean globs = s.next().stream().anyMatch(g -> !g.isLiteral());
      if (globs) {
        b.append("   [next: ").append(s.next().stream().map(Glob::pattern).collect(Collectors.joining(", "))).append(']');
      }
      if (s.tag().equals(m.terminal())) {
        b.append("   [terminal]");
      }
      if (s.force()) {
        b.append("   [force]");
      }
      if (s.shell().isEmpty()) {
        b.append("   [no script]");
      }
      out.println(b);
    }
    out.flush();
    return 0;
  }
}
