package io.kontrol.automaton.process;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Starting a shell command in its own process group and signalling that group: how kontrol runs
 * every command it is given (the automaton's scripts, the agent's callback, {@code Invoke}, {@code
 * render --check}).
 *
 * <p>Java can neither call {@code setsid()} in the child nor send a signal to a process group. The
 * first is done by {@code setsid(1)} (util-linux): started by the JVM, the child is not a group
 * leader, so {@code setsid} calls {@code setsid()} and {@code exec}s the shell in place — the pid
 * Java sees is the new group's id. The second by the shell's {@code kill} builtin with a negative
 * pid, which reaches every member of the group, including children the command left behind.
 */
public final class ProcessGroups {

  private static final Optional<String> SETSID =
      find("setsid", "/usr/bin/setsid", "/bin/setsid", "/usr/sbin/setsid", "/sbin/setsid");

  private ProcessGroups() {}

  /** True when commands get their own process group (setsid(1) is installed). */
  public static boolean available() {
    return SETSID.isPresent();
  }

  /**
   * The argv running {@code script} with {@code /bin/sh -c} as the leader of a new group; {@code
   * args} become {@code $0}, {@code $1}, ...
   */
  public static List<String> command(String script, String... args) {
    List<String> argv = new ArrayList<>(4 + args.length);
    SETSID.ifPresent(argv::add);
    argv.add("/bin/sh");
    argv.add("-c");
    argv.add(script);
    argv.addAll(List.of(args));
    return argv;
  }

  /**
   * Sends {@code signal} (TERM, KILL) to every process of group {@code pgid}; bounded to 2 s.
   *
   * @return true when the signal was delivered to at least one process
   */
  public static boolean signal(long pgid, String signal) {
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

  /**
   * SIGKILL to the group {@code leader} leads (when it has one), then to whatever is left of its
   * tree that Java can see, then to the leader itself.
   */
  public static void kill(Process leader) {
    if (available()) {
      signal(leader.pid(), "KILL");
    }
    leader.descendants().forEach(ProcessHandle::destroyForcibly);
    leader.destroyForcibly();
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
