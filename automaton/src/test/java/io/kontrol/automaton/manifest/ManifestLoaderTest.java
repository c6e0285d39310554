package io.kontrol.automaton.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ManifestLoaderTest {

  /** The original documentation's example, verbatim (trailing spaces after "next:" included). */
  static final String DOCS_EXAMPLE = String.join("\n",
      "initial: A",
      "terminal: C",
      "states:",
      "- tag: A",
      "  shell: echo starting",
      "  next: ",
      "    - B",
      "- tag: B",
      "  shell: |",
      "    sleep 5",
      "    echo $INPUT > foo",
      "  next: ",
      "    - A",
      "    - B",
      "- tag: C",
      "  shell: |",
      "    echo terminating",
      "");

  /** The shape of the original images' lifecycles: comments, blank lines in blocks, globs, a bare final state. */
  static final String ORIGINAL_LIFECYCLE = String.join("\n",
      "#",
      "# - state-machine controlling a proxy",
      "#",
      "initial: setup",
      "terminal: shutdown",
      "states:",
      "- tag: setup",
      "  shell: |",
      "",
      "    #",
      "    # - make sure /data is there",
      "    #",
      "    mkdir -p /data",
      "    cat << EOT >> /tmp/telegraf.conf",
      "    [[inputs.statsd]]",
      "      service_address = \"127.0.0.1:8125\"",
      "    EOT",
      "  next:",
      "    - configure",
      "",
      "- tag: configure",
      "  shell: |",
      "    echo $INPUT",
      "  next: ",
      "    - configure",
      "    - expose-via-*",
      "",
      "- tag: expose-via-route53",
      "  shell: echo route53",
      "  next:",
      "    - configure",
      "",
      "- tag: shutdown",
      "");

  @Test
  void loadsTheOriginalDocumentationExample() throws Exception {
    Manifest m = ManifestLoader.parse("bot.yml", DOCS_EXAMPLE);
    assertThat(m.initial()).isEqualTo("A");
    assertThat(m.terminal()).isEqualTo("C");
    assertThat(m.states().keySet()).containsExactly("A", "B", "C");
    assertThat(m.state("B").orElseThrow().shell()).contains("sleep 5\necho $INPUT > foo\n");
    assertThat(m.targets("A")).containsExactly("B", "C");
    assertThat(m.targets("B")).containsExactly("A", "B", "C");
    assertThat(m.targets("C")).isEmpty();
    assertThat(m.warnings()).isEmpty();
  }

  @Test
  void loadsTheOriginalImagesLifecycleShape() throws Exception {
    Manifest m = ManifestLoader.parse("lifecycle.yml", ORIGINAL_LIFECYCLE);
    assertThat(m.state("shutdown").orElseThrow().shell()).isEmpty();
    assertThat(m.state("shutdown").orElseThrow().next()).isEmpty();
    assertThat(m.state("setup").orElseThrow().shell().orElseThrow()).startsWith("\n#\n# - make sure");
    assertThat(m.targets("configure")).containsExactly("configure", "expose-via-route53", "shutdown");
    assertThat(m.allows("expose-via-route53", "setup")).isFalse();
    assertThat(m.allows("setup", "shutdown")).as("the terminal state is always reachable").isTrue();
    assertThat(m.allows("shutdown", "setup")).as("nothing leaves the terminal state").isFalse();
    assertThat(m.allows(null, "configure")).as("before the initial state anything goes").isTrue();
    assertThat(m.warnings()).isEmpty();
  }

  @Test
  void acceptsForceAndEmptyOrNullValues() throws Exception {
    Manifest m = ManifestLoader.parse("m.yml", String.join("\n",
        "initial: a",
        "terminal: z",
        "states:",
        "- tag: a",
        "  shell:",
        "  next: []",
        "  force: true",
        "- tag: z",
        "  next:",
        ""));
    assertThat(m.state("a").orElseThrow().force()).isTrue();
    assertThat(m.state("a").orElseThrow().shell()).isEmpty();
    assertThat(m.state("z").orElseThrow().force()).isFalse();
    assertThat(m.targets("a")).containsExactly("z");
  }

  @Test
  void warnsAboutTerminalNextAndUnreachableStatesAndEmptyGlobs() throws Exception {
    Manifest m = ManifestLoader.parse("m.yml", String.join("\n",
        "initial: setup",
        "terminal: stop",
        "states:",
        "- tag: setup",
        "  next: [stop, nomatch-*]",
        "- tag: orphan",
        "- tag: stop",
        "  next: [stop]",
        ""));
    assertThat(m.warnings()).extracting(Problem::toString).containsExactlyInAnyOrder(
        "m.yml:5:16: the pattern 'nomatch-*' matches no state",
        "m.yml:7:8: 'stop' is the terminal state: no transition leaves it, its 'next' list is ignored",
        "m.yml:6:8: no state lists 'orphan' in its 'next': it can never be entered");
  }

  @Test
  void readsFilesAndNamesThemInMessages(@TempDir Path dir) throws Exception {
    Path ok = dir.resolve("bot.yml");
    Files.writeString(ok, DOCS_EXAMPLE);
    assertThat(ManifestLoader.load(ok).source()).isEqualTo(ok);

    Path bad = dir.resolve("bad.yml");
    Files.writeString(bad, "initial: A\nterminal: C\nstates: nope\n");
    assertProblems(() -> ManifestLoader.load(bad),
        bad + ":3:9: 'states' must be a list of states (each a mapping with at least 'tag'), found the string 'nope'");

    assertProblems(() -> ManifestLoader.load(dir.resolve("missing.yml")),
        dir.resolve("missing.yml") + ":1:1: cannot read the manifest: no such file");
    assertProblems(() -> ManifestLoader.load(dir), dir + ":1:1: cannot read the manifest: it is a directory");

    Path binary = dir.resolve("binary.yml");
    Files.write(binary, new byte[] {'a', ':', ' ', (byte) 0xff, (byte) 0xfe, '\n'});
    assertProblems(() -> ManifestLoader.load(binary), binary + ":1:1: not a YAML manifest: the file is not UTF-8 text");
  }

  @Test
  void refusesTextThatIsNotYaml() {
    assertProblemsStartWith("initial: A\nstates: [\n  - tag: A\n", "m.yml:3:3: not valid YAML: expected the node content, but found '-'");
    assertProblemsStartWith("initial: A\n  terminal: C\n", "m.yml:2:11: not valid YAML: ");
    assertProblemsStartWith("key: \"unterminated\n", "m.yml:2:1: not valid YAML: ");
    assertProblemsStartWith("a: b\u0007\n", "m.yml:1:5: not valid YAML: ");
  }

  @Test
  void refusesEmptyAndNonMappingDocuments() {
    assertProblems("", "m.yml:1:1: the manifest is empty: expected a mapping with initial, terminal and states");
    assertProblems("# only a comment\n", "m.yml:1:1: the manifest is empty: expected a mapping with initial, terminal and states");
    assertProblems("- a\n- b\n", "m.yml:1:1: expected a mapping with the keys initial, terminal and states, found a list");
    assertProblems("just text\n", "m.yml:1:1: expected a mapping with the keys initial, terminal and states, found the string 'just text'");
    assertProblems("initial: A\nterminal: A\nstates: [{tag: A}]\n---\ninitial: B\n",
        "m.yml:5:1: a manifest is one YAML document; found a second one");
  }

  @Test
  void refusesMissingKeysAndEmptyStates() {
    assertProblems("states:\n- tag: A\n",
        "m.yml:1:1: missing key 'initial': the state entered at start",
        "m.yml:1:1: missing key 'terminal': the state entered on DIE, SIGTERM or SIGINT");
    assertProblems("initial: A\nterminal: A\n",
        "m.yml:1:1: missing key 'states': the list of states");
    assertProblems("initial: A\nterminal: A\nstates: []\n",
        "m.yml:3:9: 'states' is empty: a manifest needs at least one state");
    assertProblems("initial: A\nterminal: A\nstates:\n",
        "m.yml:3:8: 'states' must be a list of states (each a mapping with at least 'tag'), found nothing (null)");
    assertProblems("initial: A\nterminal: A\nstates:\n- shell: echo\n- tag: A\n",
        "m.yml:4:3: missing key 'tag': every state needs a name");
  }

  @Test
  void refusesUnknownAndDuplicateKeys() {
    assertProblems("initial: A\nterminal: A\nstates: [{tag: A}]\nverbose: true\n",
        "m.yml:4:1: unknown key 'verbose': expected one of initial, states, terminal");
    assertProblems("initial: A\nterminal: A\nstates:\n- tag: A\n  shel: echo typo\n",
        "m.yml:5:3: unknown state key 'shel': expected one of force, next, shell, tag");
    assertProblems("initial: A\ninitial: B\nterminal: A\nstates: [{tag: A}, {tag: B}]\n",
        "m.yml:2:1: duplicate key 'initial' (first at line 1)");
  }

  @Test
  void refusesWrongTypes() {
    String head = "initial: A\nterminal: Z\nstates:\n";
    assertProblems("initial: [A]\nterminal: A\nstates: [{tag: A}]\n",
        "m.yml:1:10: 'initial' must be a string, found a list");
    assertProblems(head + "- tag: 42\n- tag: A\n- tag: Z\n",
        "m.yml:4:8: 'tag' must be a string, found the integer 42 (quote it to make it a string)");
    assertProblems(head + "- tag: A\n  shell: [echo, hi]\n- tag: Z\n",
        "m.yml:5:10: 'shell' must be a string, found a list");
    assertProblems(head + "- tag: A\n  next: Z\n- tag: Z\n",
        "m.yml:5:9: 'next' must be a list of state names or patterns, found the string 'Z'; write next: [Z]");
    assertProblems(head + "- tag: A\n  next: [Z, {x: 1}]\n- tag: Z\n",
        "m.yml:5:13: a 'next' entry must be a state name or pattern, found a mapping");
    assertProblems(head + "- tag: A\n  force: yes\n- tag: Z\n",
        "m.yml:5:10: 'force' must be true or false, found the string 'yes'");
    assertProblems(head + "- A\n- tag: Z\n",
        "m.yml:4:3: a state must be a mapping with at least 'tag', found the string 'A'");
    assertProblems(head + "- tag: my state\n- tag: Z\n",
        "m.yml:4:8: a state tag must be a non-empty word without spaces: 'my state'");
    assertProblems(head + "- tag: A\n  shell: !custom echo\n- tag: Z\n",
        "m.yml:5:10: 'shell' must be a string, found a value tagged !custom (quote it to make it a string)");
  }

  @Test
  void refusesDuplicateTagsAndNamesOfNoState() {
    assertProblems("initial: A\nterminal: Z\nstates:\n- tag: A\n- tag: Z\n- tag: A\n",
        "m.yml:6:8: duplicate state 'A' (first declared at line 4)");
    assertProblems("initial: A\nterminal: Z\nstates:\n- tag: A\n  next: [Q]\n- tag: Z\n- tag: A\n",
        "m.yml:7:8: duplicate state 'A' (first declared at line 4)",
        "m.yml:5:10: 'next' names no state: 'Q' (states: A, Z)");
    assertProblems("initial: B\nterminal: Y\nstates:\n- tag: A\n  next: [C, A*]\n- tag: Z\n",
        "m.yml:1:10: 'initial' names no state: 'B' (states: A, Z)",
        "m.yml:2:11: 'terminal' names no state: 'Y' (states: A, Z)",
        "m.yml:5:10: 'next' names no state: 'C' (states: A, Z)");
  }

  @Test
  void reportsEveryProblemAtOnce() {
    assertThatThrownBy(() -> ManifestLoader.parse("m.yml",
        "initial: X\nterminal: Z\nbogus: 1\nstates:\n- tag: A\n  next: [Q]\n  force: 1\n- tag: Z\n"))
        .isInstanceOf(ManifestException.class)
        .satisfies(e -> assertThat(((ManifestException) e).problems()).hasSize(4));
  }

  @Test
  void manifestsBuiltInCodeFollowTheSameRules() {
    Manifest m = Manifest.of("a", "z", List.of(
        new StateSpec("a", Optional.of("true"), List.of(Glob.of("b*")), false, 0),
        new StateSpec("b1", Optional.empty(), List.of(), false, 0),
        new StateSpec("z", Optional.empty(), List.of(), false, 0)));
    assertThat(m.targets("a")).containsExactly("b1", "z");
    assertThat(m.targets("b1")).containsExactly("z");
    assertThat(m.allows("a", "nope")).isFalse();
    assertThat("x".getBytes(StandardCharsets.UTF_8)).hasSize(1);
  }

  /** 10,000 states, each leading to the next, the last one back to any of them (a glob). */
  static String chain(int n) {
    StringBuilder b = new StringBuilder("initial: s0\nterminal: end\nstates:\n");
    for (int i = 0; i < n; i++) {
      b.append("- tag: s").append(i).append("\n  shell: echo ").append(i).append("\n  next: [")
          .append(i + 1 < n ? "s" + (i + 1) : "'s*'").append("]\n");
    }
    return b.append("- tag: end\n").toString();
  }

  @Test
  void aManifestOfTenThousandStatesLoadsWhole(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("lifecycle.yml");
    Files.writeString(file, chain(10_000));
    Manifest m = ManifestLoader.load(file);
    assertThat(m.states()).hasSize(10_001);
    assertThat(m.warnings()).as("every state is reachable").isEmpty();
    assertThat(m.targets("s9999")).hasSize(10_001).contains("s0", "s9999", "end");
    assertThat(m.allows("s0", "s1")).isTrue();
    assertThat(m.allows("s0", "s2")).isFalse();
  }

  @Test
  void aManifestUpToFourMebibytesLoadsAndALargerOneIsRefusedUnread(@TempDir Path dir) throws Exception {
    // 3.9 MiB: past the YAML parser's own default limit (3 M code points), within the file's
    Path file = dir.resolve("big.yml");
    String script = "x".repeat((4 << 20) - 200);
    Files.writeString(file, "initial: a\nterminal: a\nstates:\n- tag: a\n  shell: " + script + "\n");
    assertThat(ManifestLoader.load(file).state("a").orElseThrow().shell()).contains(script);

    Files.writeString(file, "initial: a\nterminal: a\nstates:\n- tag: a\n  shell: " + script + "x".repeat(300) + "\n");
    assertProblems(() -> ManifestLoader.load(file), file + ":1:1: the manifest is larger than 4 MiB");
  }

  private interface Load {
    Manifest run() throws Exception;
  }

  private static void assertProblems(String yaml, String... expected) {
    assertProblems(() -> ManifestLoader.parse("m.yml", yaml), expected);
  }

  private static void assertProblems(Load load, String... expected) {
    assertThatThrownBy(load::run)
        .isInstanceOf(ManifestException.class)
        .satisfies(e -> assertThat(((ManifestException) e).problems()).extracting(Problem::toString)
            .containsExactly(expected));
  }

  private static void assertProblemsStartWith(String yaml, String prefix) {
    assertThatThrownBy(() -> ManifestLoader.parse("m.yml", yaml))
        .isInstanceOf(ManifestException.class)
        .satisfies(e -> assertThat(((ManifestException) e).problems()).singleElement()
            .extracting(Problem::toString).asString().startsWith(prefix));
  }
}
