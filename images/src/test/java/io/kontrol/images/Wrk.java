package io.kontrol.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code wrk} (Debian's) against one URL until {@link #stop()}, which sends it SIGINT: wrk then
 * prints its summary, read through a Lua {@code done()} hook, socket errors and non-2xx/3xx
 * answers apart.
 */
final class Wrk implements AutoCloseable {

  record Result(long requests, long connect, long read, long write, long timeout, long status) {
    long errors() {
      return connect + read + write + timeout + status;
    }
  }

  private static final String SCRIPT =
      "done = function(summary, latency, requests)\n"
          + "  local e = summary.errors\n"
          + "  io.write(string.format(\"RESULT requests=%d connect=%d read=%d write=%d timeout=%d status=%d\\n\",\n"
          + "    summary.requests, e.connect, e.read, e.write, e.timeout, e.status))\n"
          + "end\n";
  private static final Pattern RESULT =
      Pattern.compile("RESULT requests=(\\d+) connect=(\\d+) read=(\\d+) write=(\\d+) timeout=(\\d+) status=(\\d+)");

  private final Process process;
  private final Path dir;

  private Wrk(Process process, Path dir) {
    this.process = process;
    this.dir = dir;
  }

  /** @param close a new connection per request ({@code Connection: close}), else keep-alive */
  static Wrk start(String url, int connections, boolean close) throws IOException {
    Path dir = Files.createTempDirectory("wrk");
    Path script = Files.writeString(dir.resolve("report.lua"), SCRIPT);
    ProcessBuilder pb =
        close
            ? new ProcessBuilder("wrk", "-t1", "-c" + connections, "-d600s", "--timeout", "5s", "-s", script.toString(), "-H", "Connection: close", url)
            : new ProcessBuilder("wrk", "-t1", "-c" + connections, "-d600s", "--timeout", "5s", "-s", script.toString(), url);
    Process p = pb.redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile()).start();
    return new Wrk(p, dir);
  }

  /** Stops the run and returns its counts. */
  Result stop() throws IOException, InterruptedException {
    new ProcessBuilder("kill", "-INT", String.valueOf(process.pid())).start().waitFor(5, TimeUnit.SECONDS);
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IOException("wrk did not stop on SIGINT");
    }
    String out = Files.readString(dir.resolve("out.txt"), StandardCharsets.UTF_8);
    Matcher m = RESULT.matcher(out);
    if (!m.find()) {
      throw new IOException("wrk printed no summary: " + out);
    }
    return new Result(
        Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
        Long.parseLong(m.group(4)), Long.parseLong(m.group(5)), Long.parseLong(m.group(6)));
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
