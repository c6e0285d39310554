package io.kontrol.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.automaton.testing.Pids;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

@Timeout(60)
class RenderCommandTest {

  @TempDir Path dir;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();
  private final Map<String, String> env = new HashMap<>();

  private int run(String... args) {
    CommandLine cli = new CommandLine(new RenderCommand(env));
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  private Path template(String text) throws Exception {
    return Files.writeString(dir.resolve("t.j2"), text);
  }

  @Test
  void rendersAFileTemplateWithJsonVariablesToTheTarget() throws Exception {
    Path target = dir.resolve("conf/nats.conf");
    int code =
        run("-t", template("{% for p in peers %}{{ p }}:{{ port }}\n{% endfor %}").toString(),
            "--vars", "{\"peers\": [\"10.0.0.1\", \"10.0.0.2\"]}",
            "--vars", "{\"port\": 4244}",
            "-o", target.toString());
    assertThat(code).as(err.toString()).isZero();
    assertThat(Files.readString(target)).isEqualTo("10.0.0.1:4244\n10.0.0.2:4244\n");
    assertThat(Files.list(target.getParent())).as("no temporary file left").hasSize(1);
  }

  @Test
  void variablesComeFromAFileAndTheEnvironmentIsAvailable() throws Exception {
    env.put("KONTROL_IP", "10.1.2.3");
    Path vars = Files.writeString(dir.resolve("vars.json"), "{\"group\": \"nats\"}");
    int code =
        run("-t", template("{{ group }} {{ env.KONTROL_IP }}").toString(),
            "--vars-file", vars.toString(), "-o", "-");
    assertThat(code).as(err.toString()).isZero();
    assertThat(out.toString()).isEqualTo("nats 10.1.2.3");
  }

  @Test
  void rendersAPodAnnotationFromTheAnnotationsFileOrTheEnvironment() throws Exception {
    env.put("KONTROL_ANNOTATIONS", "{\"nats.unity3d.com/config\": \"from env {{ x }}\"}");
    assertThat(run("-a", "nats.unity3d.com/config", "--vars", "{\"x\": 1}", "-o", "-")).isZero();
    assertThat(out.toString()).isEqualTo("from env 1");

    Path file = Files.writeString(dir.resolve("annotations.json"), "{\"nats.unity3d.com/config\": \"from file\"}");
    env.put("KONTROL_ANNOTATIONS_FILE", file.toString());
    out.getBuffer().setLength(0);
    assertThat(run("-a", "nats.unity3d.com/config", "-o", "-")).isZero();
    assertThat(out.toString()).isEqualTo("from file");
  }

  @Test
  void theTemplateFileIsTheFallbackWhenThePodHasNoSuchAnnotation() throws Exception {
    Path file = template("from the image {{ x }}");
    env.put("KONTROL_ANNOTATIONS", "{\"other\": \"x\"}");
    assertThat(run("-a", "nats.unity3d.com/config", "-t", file.toString(), "--vars", "{\"x\": 2}", "-o", "-"))
        .as(err.toString())
        .isZero();
    assertThat(out.toString()).isEqualTo("from the image 2");

    env.put("KONTROL_ANNOTATIONS", "{\"nats.unity3d.com/config\": \"from the operator\"}");
    out.getBuffer().setLength(0);
    assertThat(run("-a", "nats.unity3d.com/config", "-t", file.toString(), "-o", "-")).isZero();
    assertThat(out.toString()).isEqualTo("from the operator");
  }

  @Test
  void aRenderedFileRejectedByTheCheckNeverReplacesTheTarget() throws Exception {
    Path target = Files.writeString(dir.resolve("nats.conf"), "listen: 4242\n");
    Path payload = dir.resolve("payload.json");
    int code =
        run("-t", template("listen: {{ port }}\n").toString(), "--vars", "{\"port\": \"bogus\"}",
            "--check", "grep -q 'listen: [0-9]' {} || { echo \"bad port in $1\"; exit 3; }",
            "--status-file", payload.toString(), "-o", target.toString());
    assertThat(code).isEqualTo(RenderCommand.RENDER_FAILED);
    assertThat(err.toString()).contains("exit 3").contains("bad port in <rendered>");
    assertThat(Files.readString(target)).isEqualTo("listen: 4242\n");
    assertThat(Files.readString(payload)).contains("config_error").contains("bad port");

    assertThat(run("-t", template("listen: {{ port }}\n").toString(), "--vars", "{\"port\": 4243}",
            "--check", "grep -q 'listen: [0-9]' {}", "-o", target.toString()))
        .isZero();
    assertThat(Files.readString(target)).isEqualTo("listen: 4243\n");
    assertThat(Files.list(dir)).as("no temporary file left").hasSize(3);
  }

  @Test
  void aCheckThatHangsIsCutAtItsTimeout() throws Exception {
    Path target = dir.resolve("out");
    assertThat(run("-t", template("x").toString(), "--check", "sleep 30", "--check-timeout", "1", "-o", target.toString()))
        .isEqualTo(RenderCommand.RENDER_FAILED);
    assertThat(err.toString()).contains("did not finish within 1 s");
    assertThat(target).doesNotExist();
  }

  @Test
  void aCheckThatHangsLeavesNoChildBehindAfterItsTimeout() throws Exception {
    Path target = dir.resolve("out");
    Path pid = dir.resolve("child.pid");
    // a validator that forks (as `nats-server -t` may) and hangs waiting for its child
    String check = "sh -c 'sleep 600 & echo $! > " + pid + "; wait'";
    assertThat(run("-t", template("x").toString(), "--check", check, "--check-timeout", "1", "-o", target.toString()))
        .isEqualTo(RenderCommand.RENDER_FAILED);
    assertThat(err.toString()).contains("did not finish within 1 s");
    long child = Long.parseLong(Files.readString(pid).trim());
    await().atMost(Duration.ofSeconds(5)).until(() -> Pids.gone(child));
  }

  @Test
  void aBrokenTemplateLeavesTheTargetUntouchedAndSaysWhichLine() throws Exception {
    Path target = Files.writeString(dir.resolve("nats.conf"), "the running config\n");
    int code =
        run("-t", template("listen: 4242\n{% for p in peers %}\nroute {{ p }}\n").toString(),
            "--vars", "{\"peers\": [\"a\"]}", "-o", target.toString());
    assertThat(code).isEqualTo(RenderCommand.RENDER_FAILED);
    assertThat(err.toString()).contains("t.j2").contains("line 2").contains("left unchanged");
    assertThat(Files.readString(target)).isEqualTo("the running config\n");
    assertThat(Files.list(dir)).as("no temporary file left").hasSize(2);
  }

  @Test
  void anUndefinedVariableFailsUnlessLenient() throws Exception {
    Path target = dir.resolve("out");
    Path t = template("port {{ port }}");
    assertThat(run("-t", t.toString(), "-o", target.toString())).isEqualTo(RenderCommand.RENDER_FAILED);
    assertThat(err.toString()).contains("undefined").contains("port");
    assertThat(target).doesNotExist();
    assertThat(run("-t", t.toString(), "--lenient", "-o", target.toString())).isZero();
    assertThat(Files.readString(target)).isEqualTo("port ");
  }

  @Test
  void aFailureIsReportedInTheStatusFileAndClearedByTheNextSuccess() throws Exception {
    Path payload = Files.writeString(dir.resolve("payload.json"), "{\"broker\": \"up\"}");
    Path target = dir.resolve("out");
    Path bad = Files.writeString(dir.resolve("bad.j2"), "{{ x | nope }}");
    assertThat(run("-t", bad.toString(), "-o", target.toString(), "--status-file", payload.toString()))
        .isEqualTo(RenderCommand.RENDER_FAILED);
    assertThat(Files.readString(payload))
        .contains("\"broker\":\"up\"")
        .contains("\"config_error\":\"" + bad + ": line 1: no filter named 'nope'\"");

    assertThat(run("-t", template("ok").toString(), "-o", target.toString(), "--status-file", payload.toString()))
        .isZero();
    assertThat(Files.readString(payload).trim()).isEqualTo("{\"broker\":\"up\"}");
  }

  @Test
  void badInputIsAUsageErrorAndWritesNothing() throws Exception {
    Path target = dir.resolve("out");
    Path t = template("x");
    assertThat(run("-t", t.toString(), "--vars", "[1, 2]", "-o", target.toString())).isEqualTo(RenderCommand.BAD_INPUT);
    assertThat(err.toString()).contains("--vars is not a JSON object");
    assertThat(run("-t", dir.resolve("missing.j2").toString(), "-o", target.toString()))
        .isEqualTo(RenderCommand.BAD_INPUT);
    assertThat(err.toString()).contains("missing.j2 does not exist");
    assertThat(run("-a", "nats.unity3d.com/config", "-o", target.toString())).isEqualTo(RenderCommand.BAD_INPUT);
    assertThat(err.toString()).contains("no annotation nats.unity3d.com/config");
    assertThat(run("-o", target.toString())).as("a template source is required").isEqualTo(2);
    assertThat(target).doesNotExist();
  }

  @Test
  void aDryRunPrintsTheResultAndADiffAndChangesNothing() throws Exception {
    Path target = Files.writeString(dir.resolve("nats.conf"), "port: 4222\nroutes: [a]\n");
    Path status = Files.writeString(dir.resolve("payload.json"), "{\"config_error\":\"old\"}\n");
    long mtime = Files.getLastModifiedTime(target).toMillis();
    int code =
        run("-t", template("port: 4222\nroutes: [{{ r }}]\n").toString(), "--vars", "{\"r\": \"a, b\"}",
            "--check", "grep -q port {}", "--status-file", status.toString(), "--dry-run", "-o", target.toString());
    assertThat(code).as(err.toString()).isZero();
    assertThat(out.toString())
        .startsWith("port: 4222\nroutes: [a, b]\n")
        .contains("--- " + target + " (live)", "+++ " + target + " (rendered)", "-routes: [a]", "+routes: [a, b]");
    assertThat(err.toString()).contains("would change; nothing written");
    assertThat(Files.readString(target)).isEqualTo("port: 4222\nroutes: [a]\n");
    assertThat(Files.getLastModifiedTime(target).toMillis()).isEqualTo(mtime);
    assertThat(Files.readString(status)).as("no status reported").isEqualTo("{\"config_error\":\"old\"}\n");
    assertThat(Files.list(dir)).as("no staged file left beside the target").hasSize(3);
  }

  @Test
  void aDryRunOfAnUpToDateFileSaysSo() throws Exception {
    Path target = Files.writeString(dir.resolve("same.conf"), "x = 1\n");
    assertThat(run("-t", template("x = {{ v }}\n").toString(), "--vars", "{\"v\": 1}", "--dry-run", "-o", target.toString()))
        .as(err.toString()).isZero();
    assertThat(out.toString()).contains("is up to date: rendering it would change nothing").doesNotContain("+++");
  }

  @Test
  void aDryRunWhoseCheckFailsExitsOneAndChangesNothing() throws Exception {
    Path target = dir.resolve("absent.conf");
    Path status = dir.resolve("payload.json");
    int code =
        run("-t", template("bad\n").toString(), "--check", "echo 'no such directive' >&2; exit 1",
            "--status-file", status.toString(), "--dry-run", "-o", target.toString());
    assertThat(code).isEqualTo(1);
    assertThat(err.toString()).contains("rejected the rendered file", "no such directive", "dry run: nothing changed");
    assertThat(target).doesNotExist();
    assertThat(status).doesNotExist();
  }

  @Test
  void aDryRunNeedsAnOutputFile() throws Exception {
    assertThat(run("-t", template("x").toString(), "--dry-run", "-o", "-")).isEqualTo(2);
    assertThat(err.toString()).contains("--dry-run compares with the output file");
  }
}
