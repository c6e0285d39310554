package io.kontrol.automaton.machine;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Starting a command in its own process group and signalling that group.
 *
 * <p>Java can neither call {@code setsid()} in the child nor send a signal to a process group. The
 * first is done by {@code setsid(1)} (util-linux): started by the JVM, the child is not a group
 * leader, so {@code setsid} calls {@code setsid()} and {@code exec}s the shell in place — the pid
 * Java sees is the new group's id. The second by the shell's {@code kill} builtin with a negative
 * pid, which reaches every member of the group, including children the script left behind.
 */
final class ProcessGroups {

  private static final Optional<String> SETSID = find("setsid", "/usr/bin/setsid", "/bin/setsid");

  private ProcessGroups() {}

  /** True when scripts get their own process group (setsid(1) is installed). */
  static boolean available() {
    return SETSID.isPresent();
  }

  /** The argv running {@code script} with {@code /bin/sh -c} as the leader of a new group. */
  static List<String> command(String script) {
    List<String> argv = new ArrayList<>(4);
    SETSID.ifPresent(argv::add);
    argv.add("/bin/sh");
    argv.add("-c");
    argv.add(script);
    return argv;
  }

  /**
   * Sends {@code signal} (TERM, KILL) to every process of group {@code pgid}; bounded to 2 s.
   *
   * @return true when the signal was delivered to at least one process
   */
  static boolean signal(long pgid, String signal) {
    if (pgid <= 1) {
      throw new IllegalArgumentException("refusing to signal process group " + pgid);
    }
    try {
      Process kill = new ProcessBuilder("/bin/sh", "-c", "kill -s " + signal + " -- -" + pgid + " 2>/dev/null")
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectErrorStream(true)
          .start();
      if (!kill.waitFor(2, TimeUnit.SECONDS)) {
        kill.destroyForcibly();
        return false;
      }
      return kill.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static Optional<String> find(String name, String... candidates) {
    for (String c : candidates) {
      if (Files.isExecutable(Path.of(c))) {
        return Optional.of(c);
      }
    }
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(":")) {
        if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
          return Optional.of(Path.of(dir, name).toString());
        }
      }
    }
    return Optional.empty();
  }
}
