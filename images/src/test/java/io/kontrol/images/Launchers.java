package io.kontrol.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The JVM command lines the dist launchers ({@code dist/bin/kontrol}, {@code dist/bin/automaton})
 * give, as installed in an image: the launchers are run from a copy of the dist laid out as
 * /opt/kontrol (jars and class-data archives present), with a {@code java} that prints its
 * arguments instead of starting a JVM.
 */
final class Launchers {

  private final Path home;

  private Launchers(Path home) {
    this.home = home;
  }

  /** From the dist the build made ({@code -Dkontrol.dist}, default {@code ../dist}). */
  static Launchers fromDist() throws IOException {
    Path dist = Path.of(System.getProperty("kontrol.dist", "../dist")).toAbsolutePath().normalize();
    Path home = Files.createTempDirectory("kontrol-launchers");
    Files.createDirectories(home.resolve("bin"));
    Files.createDirectories(home.resolve("lib"));
    Files.createDirectories(home.resolve("java/bin"));
    for (String program : List.of("kontrol", "automaton")) {
      Path launcher = dist.resolve("bin").resolve(program);
      if (!Files.isExecutable(launcher)) {
        throw new IllegalStateException(launcher + " is missing: build the dist first (mvn package -pl agent,automaton -am)");
      }
      Files.copy(launcher, home.resolve("bin").resolve(program), StandardCopyOption.COPY_ATTRIBUTES);
      Files.createFile(home.resolve("lib").resolve(program + ".jar"));
      Files.createFile(home.resolve("lib").resolve(program + ".jsa"));
    }
    Path java = home.resolve("java/bin/java");
    Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n", StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    return new Launchers(home);
  }

  /** The argument vector {@code program args} runs, with {@code java} as its first element. */
  List<String> commandLine(String program, String java, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(home.resolve("bin").resolve(program).toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().clear();
    pb.environment().put("PATH", "/usr/bin:/bin");
    pb.environment().put("JAVA_HOME", home.resolve("java").toString());
    pb.environment().put("LANG", "C.UTF-8");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(cmd + " failed: " + out);
    }
    List<String> argv = new ArrayList<>(List.of(java));
    for (String a : out.split("\n")) {
      argv.add(a.replace(home.toString(), "/opt/kontrol"));
    }
    return argv;
  }
}
