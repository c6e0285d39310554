package io.kontrol.agent.cli;

import com.github.difflib.DiffUtils;
import com.github.difflib.UnifiedDiffUtils;
import io.etcd.jetcd.Client;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.groupconfig.GroupConfig;
import io.kontrol.agent.groupconfig.GroupConfigException;
import io.kontrol.agent.groupconfig.GroupConfigStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol config put [NS/]APP FILE|-}: validates the document and stores it whole; the
 * group's leader applies it at once. Prints the new revision. {@code --dry-run} validates, prints
 * a unified diff against the stored configuration and writes nothing. Exit 0; 1 refused (the field
 * and the reason on stderr, nothing stored); 2 usage (no such file); 3 etcd did not answer.
 */
@Command(
    name = "put",
    mixinStandardHelpOptions = true,
    description = {
      "Validate a group configuration (JSON: name, routes, leafnodes) and store it; the leader applies it at once.",
      "Prints the new revision; --dry-run prints what would change and stores nothing."
    })
public final class ConfigPutCommand implements Callable<Integer> {

  /** Where stdin is read from: the process's, unless a test gives another. */
  static InputStream stdin = System.in;

  @ParentCommand ConfigCommand parent;
  @Spec CommandSpec spec;
  @Mixin ConfigCommand.Etcd etcd;

  @Parameters(index = "0", paramLabel = "[NS/]APP", description = "The group (NS: $NAMESPACE, else default).")
  String group;

  @Parameters(index = "1", paramLabel = "FILE|-", description = "The JSON document, or - for stdin.")
  String file;

  @Option(names = "--dry-run", description = "Validate and print a diff against the stored configuration; store nothing.")
  boolean dryRun;

  @Override
  public Integer call() throws GroupConfigStore.Unreachable, GroupConfigException, InterruptedException {
    Group g = ConfigCommand.group(spec, parent.env(), group);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String source = file.equals("-") ? "stdin" : file;
    String text;
    try {
      text = file.equals("-") ? new String(stdin.readAllBytes(), StandardCharsets.UTF_8) : Files.readString(Path.of(file));
    } catch (IOException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "cannot read " + source + ": " + e.getMessage());
    }
    GroupConfig config;
    try {
      config = GroupConfig.parse(text);
    } catch (GroupConfigException e) {
      throw new GroupConfigException(source + ": " + e.getMessage() + " (nothing stored)");
    }
    try (Client client = etcd.client(parent.env())) {
      GroupConfigStore store = etcd.store(client);
      if (dryRun) {
        Optional<GroupConfigStore.Stored> stored = store.get(g);
        String before = stored.map(GroupConfigStore.Stored::json).map(ConfigPutCommand::prettyOrRaw).orElse(GroupConfig.EMPTY.pretty());
        String rev = stored.map(s -> "revision " + s.revision()).orElse("revision 0");
        List<String> a = before.lines().toList();
        List<String> b = config.pretty().lines().toList();
        List<String> diff = UnifiedDiffUtils.generateUnifiedDiff(g + " " + rev, g + " " + source, a, DiffUtils.diff(a, b), 3);
        diff.forEach(out::println);
        out.flush();
        err.println("kontrol config: dry run: " + g + (diff.isEmpty() ? " unchanged" : " would change") + " from " + rev + "; nothing stored");
        err.flush();
        return 0;
      }
      long revision = store.put(g, config);
      out.println(revision);
      out.flush();
      err.println("kontrol config: " + g + " stored at revision " + revision + ": " + config.json());
      err.flush();
      return 0;
    }
  }

  private static String prettyOrRaw(String json) {
    try {
      return GroupConfig.parse(json).pretty();
    } catch (GroupConfigException e) {
      return json + "\n";
    }
  }
}
