package io.kontrol.agent.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** What a test needs to run the project's programs as child JVMs on the test class path. */
public final class ChildJvm {

  private ChildJvm() {}

  /** The {@code java} of the running JDK. */
  public static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** The test class path (surefire's full list when it hides it behind a manifest jar). */
  public static String classpath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }

  /** A loopback port free right now. */
  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Writes {@code bin/kontrol}, running the CLI from the test class path, as the images' launcher does; returns bin. */
  public static Path kontrolLauncher(Path dir) throws IOException {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Files.writeString(bin.resolve("kontrol"), "#!/bin/sh\nexec " + java() + " -XX:TieredStopAtLevel=1 -cp " + classpath()
        + " io.kontrol.agent.cli.KontrolCommand \"$@\"\n");
    Files.setPosixFilePermissions(bin.resolve("kontrol"), PosixFilePermissions.fromString("rwxr-xr-x"));
    return bin;
  }
}
