package io.kontrol.agent.boot;

import static io.kontrol.agent.testing.ChildJvm.classpath;
import static io.kontrol.agent.testing.ChildJvm.freePort;
import static io.kontrol.agent.testing.ChildJvm.java;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.kontrol.agent.cli.KontrolCommand;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.ChildJvm;
import io.kontrol.agent.testing.EtcdCluster;
import io.kontrol.agent.testing.ImdsFixture;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kontrol boot} both ways: as the images run it ({@code images/base/entrypoint}: boot
 * prepares and exits, supervisord is exec'd in its place) and resident (a real supervisord started
 * by boot as its child), each with a real automaton and a real agent (child JVMs on the test
 * classpath) as its programs, against a real etcd. The EC2 metadata endpoint is the never-answering STAND-IN: boot must not hang on it.
 */
@Timeout(180)
class BootTest {

  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();

  @TempDir Path dir;

  /** The pod's programs (a real automaton and a real agent) in {@code dir/programs}. */
  private Path programs(Path marker, Path seenEnv) throws Exception {
    Path programs = Files.createDirectories(dir.resolve("programs"));
    Files.writeString(dir.resolve("lifecycle.yml"), String.join("\n",
        "initial: setup",
        "terminal: shutdown",
        "states:",
        "- tag: setup",
        "  shell: echo \"$KONTROL_ID $KONTROL_IP\" > " + seenEnv + "; printf '%s' \"$KONTROL_ANNOTATIONS\" > " + seenEnv + ".annotations",
        "  next: ['*']",
        "- tag: shutdown",
        "  shell: touch " + marker,
        ""));
    String jvm = java() + " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp " + classpath();
    Files.writeString(programs.resolve("automaton.conf"), String.join("\n",
        "[program:automaton]",
        "command=" + jvm + " io.kontrol.automaton.cli.AutomatonCommand " + dir.resolve("lifecycle.yml")
            + " -s " + dir.resolve("sock") + " -l -",
        "priority=10",
        "startsecs=0",
        "autorestart=false",
        "stopsignal=INT",
        "stopasgroup=true",
        "stopwaitsecs=60",
        "stdout_logfile=" + dir.resolve("automaton.log"),
        "redirect_stderr=true",
        ""));
    Files.writeString(programs.resolve("kontrol.conf"), String.join("\n",
        "[program:kontrol]",
        "command=" + jvm + " io.kontrol.agent.cli.KontrolCommand run",
        "priority=20",
        "startsecs=0",
        "autorestart=false",
        "stopsignal=INT",
        "stopwaitsecs=30",
        "stdout_logfile=" + dir.resolve("kontrol.log"),
        "redirect_stderr=true",
        ""));
    return programs;
  }

  private Map<String, String> env(String app, int port, Path programs) {
    Map<String, String> env = new HashMap<>();
    env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    env.put("HOME", dir.toString());
    env.put("KONTROL_ETCD", ETCD.endpointList());
    env.put("KONTROL_MODE", "master,slave");
    env.put("KONTROL_ID", "boot-0");
    env.put("KONTROL_IP", "127.0.0.9");
    env.put("KONTROL_LABELS", "{\"app\":\"" + app + "\",\"role\":\"test\"}");
    env.put("KONTROL_ANNOTATIONS", "{\"kontrol.unity3d.com/opentsdb\":\"tsdb.example:4243\"}");
    env.put("KONTROL_TTL", "5");
    env.put("KONTROL_DAMPER", "0");
    env.put("KONTROL_PORT", String.valueOf(port));
    // the agent's HTTP endpoint on any free port: 8001 may be taken on a shared machine
    env.put("KONTROL_HTTP_PORT", "0");
    env.put("KONTROL_SOCKET", dir.resolve("sock").toString());
    env.put("KONTROL_SUPERVISOR_DIR", programs.toString());
    env.put("KONTROL_TELEGRAF_CONF", dir.resolve("telegraf.conf").toString());
    return env;
  }

  @Test
  void bootRegistersThePodAndSigtermRunsTheTerminalStateAndDeregisters() throws Exception {
    Path marker = dir.resolve("terminal-ran");
    Path seenEnv = dir.resolve("automaton-env");
    Path programs = programs(marker, seenEnv);
    String app = "boot" + System.nanoTime() % 100_000;
    int port = freePort();
    Map<String, String> env = env(app, port, programs);

    try (ImdsFixture silent = ImdsFixture.silent(); Client etcd = ETCD.newClient()) {
      env.put("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent.endpoint().toString());
      ProcessBuilder pb = new ProcessBuilder(List.of(java(), "-cp", classpath(), "io.kontrol.agent.cli.KontrolCommand", "boot"))
          .redirectErrorStream(true).redirectOutput(dir.resolve("boot.log").toFile());
      pb.environment().clear();
      pb.environment().putAll(env);
      Process boot = pb.start();
      try {
        ByteSequence key = ByteSequence.from(new Group("default", app).podKey("boot-0"), StandardCharsets.UTF_8);
        // a read slower than 5 s on a loaded machine is retried, not a failure
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
            .ignoreExceptionsInstanceOf(java.util.concurrent.TimeoutException.class)
            .until(() -> etcd.getKVClient().get(key).get(5, TimeUnit.SECONDS).getCount() == 1);

        // identity reached the programs, the metrics configuration was rendered
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(seenEnv));
        assertThat(Files.readString(seenEnv).trim()).isEqualTo("boot-0 127.0.0.9");
        String telegraf = Files.readString(dir.resolve("telegraf.conf"));
        assertThat(telegraf).contains("host = \"tsdb.example\"").contains("port = 4243")
            .contains("app = \"" + app + "\"").contains("service_address = \"127.0.0.1:8125\"");

        // kontrol status reads the local agent through its peer API
        StringWriter out = new StringWriter();
        await().atMost(Duration.ofSeconds(20)).until(() -> {
          out.getBuffer().setLength(0);
          return KontrolCommand.commandLine(new KontrolCommand(env)).setOut(new PrintWriter(out)).execute("status", "--json") == 0;
        });
        assertThat(out.toString()).contains("\"id\" : \"boot-0\"").contains("\"automaton_state\" : \"setup\"")
            .contains("/kontrol/default/" + app);

        String log = Files.readString(dir.resolve("boot.log"));
        Matcher m = Pattern.compile("supervisord started pid=(\\d+)").matcher(log);
        assertThat(m.find()).as(log).isTrue();
        long supervisordPid = Long.parseLong(m.group(1));

        boot.destroy(); // SIGTERM, as the kubelet sends it
        assertThat(boot.waitFor(120, TimeUnit.SECONDS)).as("boot exits").isTrue();
        assertThat(boot.exitValue()).isZero();
        assertThat(marker).as("the automaton ran its terminal state").exists();
        assertThat(etcd.getKVClient().get(key).get(30, TimeUnit.SECONDS).getCount()).as("record gone").isZero();
        assertThat(ProcessHandle.of(supervisordPid).map(ProcessHandle::isAlive).orElse(false)).as("supervisord exited").isFalse();
        // the metadata endpoint that never answers was given up on (within its budget, enforced
        // by Ec2Identity and tested there): the identity has no EC2 fields and boot went on
        assertThat(log).contains("identity: id=boot-0 ip=127.0.0.9 host=null eip=null")
            .containsPattern("boot: ready in \\d+ ms");
      } finally {
        if (boot.isAlive()) {
          boot.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  /**
   * The images' way: {@code images/base/entrypoint} runs {@code kontrol boot --env-file} (a JVM
   * that exits) and then execs supervisord, so the process the container started IS supervisord;
   * the environment boot resolved (here annotations from a Downward API file, with a quote and a
   * newline) reaches the programs exactly; SIGTERM still runs the terminal state and deregisters.
   */
  @Test
  void theEntrypointExecsSupervisordWithBootsEnvironmentAndSigtermStillDeregisters() throws Exception {
    Path marker = dir.resolve("terminal-ran");
    Path seenEnv = dir.resolve("automaton-env");
    Path programs = programs(marker, seenEnv);
    String app = "entry" + System.nanoTime() % 100_000;
    int port = freePort();
    Map<String, String> env = env(app, port, programs);
    Path podinfo = Files.createDirectories(dir.resolve("podinfo"));
    Files.writeString(podinfo.resolve("annotations"), "kontrol.unity3d.com/master=\"" + app + ".default.svc\"\n"
        + "x.example/template=\"it's\\n\\\"two\\\" lines\"");
    env.put("KONTROL_PODINFO", podinfo.toString());
    env.put("KONTROL_BOOT_ENV", dir.resolve("run/boot.env").toString());
    Path bin = ChildJvm.kontrolLauncher(dir);
    env.put("PATH", bin + ":" + env.get("PATH"));
    Path entrypoint = Path.of("..", "images", "base", "entrypoint").toAbsolutePath().normalize();
    assertThat(entrypoint).as("the images' entrypoint").exists();

    try (ImdsFixture silent = ImdsFixture.silent(); Client etcd = ETCD.newClient()) {
      env.put("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent.endpoint().toString());
      ProcessBuilder pb = new ProcessBuilder(List.of("/bin/sh", entrypoint.toString()))
          .redirectErrorStream(true).redirectOutput(dir.resolve("entrypoint.log").toFile());
      pb.environment().clear();
      pb.environment().putAll(env);
      Process pod = pb.start();
      try {
        ByteSequence key = ByteSequence.from(new Group("default", app).podKey("boot-0"), StandardCharsets.UTF_8);
        // a read slower than 5 s on a loaded machine is retried, not a failure
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
            .ignoreExceptionsInstanceOf(java.util.concurrent.TimeoutException.class)
            .until(() -> etcd.getKVClient().get(key).get(5, TimeUnit.SECONDS).getCount() == 1);
        String cmdline = Files.readString(Path.of("/proc", String.valueOf(pod.pid()), "cmdline")).replace('\0', ' ');
        assertThat(cmdline).as("the entrypoint's process became supervisord").contains("supervisord -n -c")
            .doesNotContain("java");
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(Path.of(seenEnv + ".annotations")));
        assertThat(Files.readString(Path.of(seenEnv + ".annotations"))).isEqualTo("{\"kontrol.unity3d.com/master\":\""
            + app + ".default.svc\",\"x.example/template\":\"it's\\n\\\"two\\\" lines\"}");
        assertThat(Files.readString(dir.resolve("run/boot.env"))).contains("export KONTROL_SUPERVISORD_CONF=");

        pod.destroy(); // SIGTERM to supervisord itself, as docker stop sends it to PID 1
        assertThat(pod.waitFor(120, TimeUnit.SECONDS)).as("supervisord exits").isTrue();
        assertThat(pod.exitValue()).isZero();
        assertThat(marker).as("the automaton ran its terminal state").exists();
        assertThat(etcd.getKVClient().get(key).get(30, TimeUnit.SECONDS).getCount()).as("record gone").isZero();
      } finally {
        if (pod.isAlive()) {
          pod.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  @Test
  void theEntrypointExitsWithBootsCodeWhenTheIdentityCannotBeResolved() throws Exception {
    Path bin = ChildJvm.kontrolLauncher(dir);
    ProcessBuilder pb = new ProcessBuilder(List.of("/bin/sh", Path.of("..", "images", "base", "entrypoint").toString()))
        .redirectErrorStream(true);
    pb.environment().clear();
    pb.environment().put("PATH", bin + ":/usr/bin:/bin");
    pb.environment().put("KONTROL_MODE", "debug");
    pb.environment().put("KONTROL_LABELS", "not json");
    pb.environment().put("KONTROL_BOOT_ENV", dir.resolve("boot.env").toString());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isEqualTo(1);
    assertThat(out).contains("boot: cannot resolve the pod's identity: KONTROL_LABELS is not a JSON object");
    assertThat(dir.resolve("boot.env")).doesNotExist();
  }
}
