package io.kontrol.service.haproxy;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The master CLI's {@code show proc}: the master (its PID, the reloads it attempted, the failed
 * ones since the last success), the current workers and the old ones still draining.
 *
 * <pre>
 * #&lt;PID&gt;          &lt;type&gt;          &lt;reloads&gt;       &lt;uptime&gt;        &lt;version&gt;
 * 1162            master          5 [failed: 0]   0d00h02m07s     2.6.12-1+deb12u4
 * # workers
 * 1180            worker          0               0d00h00m03s     2.6.12-1+deb12u4
 * # old workers
 * 1171            worker          1               0d00h00m31s     2.6.12-1+deb12u4
 * # programs
 * </pre>
 *
 * <p>A worker's {@code reloads} is how many reloads it survived.
 */
public record ProcList(long masterPid, int reloads, int failed, List<Worker> workers, List<Worker> oldWorkers) {

  /** One worker process. */
  public record Worker(long pid, int reloads) {}

  private static final Pattern MASTER = Pattern.compile("^(\\d+)\\s+master\\s+(\\d+)\\s+\\[failed:\\s*(\\d+)\\]");
  private static final Pattern WORKER = Pattern.compile("^(\\d+)\\s+worker\\s+(\\d+)");

  public ProcList {
    workers = List.copyOf(workers);
    oldWorkers = List.copyOf(oldWorkers);
  }

  /**
   * The current worker: the one that survived the fewest reloads (0 after a successful one; after
   * a failed reload the running worker counts it too, and stays listed under "# workers").
   */
  public Optional<Worker> newest() {
    return workers.stream().min(java.util.Comparator.comparingInt(Worker::reloads));
  }

  /** @throws IllegalArgumentException when the text has no master line */
  public static ProcList parse(String text) {
    long masterPid = -1;
    int reloads = 0;
    int failed = 0;
    List<Worker> workers = new ArrayList<>();
    List<Worker> old = new ArrayList<>();
    List<Worker> section = null;
    for (String raw : text.split("\n")) {
      String line = raw.strip();
      if (line.equals("# workers")) {
        section = workers;
      } else if (line.equals("# old workers")) {
        section = old;
      } else if (line.startsWith("#")) {
        section = null;
      } else {
        Matcher m = MASTER.matcher(line);
        if (m.find()) {
          masterPid = Long.parseLong(m.group(1));
          reloads = Integer.parseInt(m.group(2));
          failed = Integer.parseInt(m.group(3));
          continue;
        }
        Matcher w = WORKER.matcher(line);
        if (section != null && w.find()) {
          section.add(new Worker(Long.parseLong(w.group(1)), Integer.parseInt(w.group(2))));
        }
      }
    }
    if (masterPid < 0) {
      throw new IllegalArgumentException("not a 'show proc' reply: " + text.strip());
    }
    return new ProcList(masterPid, reloads, failed, workers, old);
  }
}
