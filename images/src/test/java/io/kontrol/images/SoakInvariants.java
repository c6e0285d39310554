package io.kontrol.images;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The soak's invariants, checked from what the soak saw: the agents' log lines (callback runs,
 * with their own UTC timestamps), every state write etcd made (with the leader at its revision)
 * and every read of the group's live records. Pure: no Docker, no etcd, so a control can feed it
 * a violation and see it reported.
 */
final class SoakInvariants {

  /** One agent log line that opens or closes a callback run; {@code state} is what a successful run wrote (as logged). */
  record Line(Instant at, String pod, boolean start, String state) {
    Line(Instant at, String pod, boolean start) {
      this(at, pod, start, null);
    }

    /** Whether this line is the end of a run that wrote {@code value} (the log cuts a long state at 300 characters). */
    boolean wrote(String value) {
      if (state == null || value == null) {
        return false;
      }
      String v = value.strip().replace('\n', ' ').replace('\r', ' ');
      return state.equals(v) || state.endsWith("...") && v.startsWith(state.substring(0, state.length() - 3));
    }
  }

  /** A callback run of one pod, from its start to its end (or to when the pod was killed). */
  record Run(String pod, Instant from, Instant to) {}

  /** A write of {@code G/state} as etcd made it, with who led at that revision (null: nobody). */
  record StateWrite(long revision, Instant seen, String leaderAtRevision, String value) {}

  /** A broken invariant: which, when, and what exactly. */
  record Violation(String invariant, Instant at, String detail) {
    @Override
    public String toString() {
      return invariant + " at " + at + ": " + detail;
    }
  }

  static final String ONE_LEADER = "one leader acting at a time";
  static final String STATE_BY_LEADER = "state written only by the leader";
  static final String UNIQUE_SEQ = "no two live pods with the same seq";
  static final String CONVERGED = "every broker routes to exactly the live others within TTL + damper + 10 s";

  private static final Pattern STATE = Pattern.compile(" state=(.*)$");
  private static final Pattern AGENT_LINE =
      Pattern.compile("^(\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z) +\\w+ +(callback started|callback done|callback failed|callback stopped"
          + "|state write failed|state not written) group=\\S+ pod=(\\S+)");

  private SoakInvariants() {}

  /** The callback lines of one pod's log (the agent's text format), in order. */
  static List<Line> callbackLines(String log) {
    List<Line> out = new ArrayList<>();
    for (String l : log.split("\n")) {
      Matcher m = AGENT_LINE.matcher(l);
      if (m.find()) {
        Matcher st = STATE.matcher(l);
        out.add(new Line(Instant.parse(m.group(1)), m.group(3), m.group(2).equals("callback started"),
            m.group(2).equals("callback done") && st.find() ? st.group(1) : null));
      }
    }
    return out;
  }

  /**
   * The runs of one pod: each start to the next end line; a run with no end line ended when the
   * pod was next killed or stopped ({@code deaths}), or is still running at {@code end}.
   */
  static List<Run> runs(List<Line> lines, List<Instant> deaths, Instant end) {
    List<Run> out = new ArrayList<>();
    Line open = null;
    for (Line l : lines) {
      if (l.start()) {
        if (open != null) {
          out.add(new Run(open.pod(), open.at(), deathAfter(open.at(), deaths).orElse(l.at())));
        }
        open = l;
      } else if (open != null) {
        out.add(new Run(open.pod(), open.at(), l.at()));
        open = null;
      }
    }
    if (open != null) {
      out.add(new Run(open.pod(), open.at(), deathAfter(open.at(), deaths).orElse(end)));
    }
    return out;
  }

  private static Optional<Instant> deathAfter(Instant t, List<Instant> deaths) {
    return deaths.stream().filter(d -> !d.isBefore(t)).min(Instant::compareTo);
  }

  /** Callback runs of two different pods that overlap in time: two leaders acting at once. */
  static List<Violation> overlaps(List<Run> runs) {
    List<Run> sorted = new ArrayList<>(runs);
    sorted.sort((a, b) -> a.from().compareTo(b.from()));
    List<Violation> out = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      for (int j = i + 1; j < sorted.size() && sorted.get(j).from().isBefore(sorted.get(i).to()); j++) {
        Run a = sorted.get(i);
        Run b = sorted.get(j);
        if (!a.pod().equals(b.pod())) {
          out.add(new Violation(ONE_LEADER, b.from(),
              a.pod() + " ran " + a.from() + " to " + a.to() + " while " + b.pod() + " started at " + b.from()));
        }
      }
    }
    return out;
  }

  /**
   * Each state write must have been made while a leader held the group, by that leader: one of
   * ITS successful runs ({@code callback done}) logged that very state within {@code slackMs} of
   * when the write was seen.
   */
  static List<Violation> stateWrites(List<StateWrite> writes, Map<String, List<Line>> linesByPod, long slackMs) {
    List<Violation> out = new ArrayList<>();
    for (StateWrite w : writes) {
      if (w.leaderAtRevision() == null) {
        out.add(new Violation(STATE_BY_LEADER, w.seen(), "state written at revision " + w.revision() + " while no pod led"));
        continue;
      }
      boolean byLeader =
          linesByPod.getOrDefault(w.leaderAtRevision(), List.of()).stream()
              .anyMatch(l -> l.wrote(w.value()) && Math.abs(l.at().toEpochMilli() - w.seen().toEpochMilli()) <= slackMs);
      if (!byLeader) {
        List<String> near = new ArrayList<>();
        linesByPod.forEach((pod, lines) -> {
          if (lines.stream().anyMatch(l -> l.wrote(w.value()) && Math.abs(l.at().toEpochMilli() - w.seen().toEpochMilli()) <= slackMs)) {
            near.add(pod);
          }
        });
        out.add(new Violation(STATE_BY_LEADER, w.seen(), "state written at revision " + w.revision() + " is no run of the leader "
            + w.leaderAtRevision() + (near.isEmpty() ? " (no run of any pod ended then)" : " (runs that ended then: " + near + ")")));
      }
    }
    return out;
  }

  /** Live records (pod id → seq) read at one moment: two ids with the same seq is a violation. */
  static Optional<Violation> seqs(Instant at, Map<String, Long> seqById) {
    Map<Long, String> owner = new HashMap<>();
    for (Map.Entry<String, Long> e : new TreeMap<>(seqById).entrySet()) {
      String other = owner.putIfAbsent(e.getValue(), e.getKey());
      if (other != null) {
        return Optional.of(new Violation(UNIQUE_SEQ, at, other + " and " + e.getKey() + " both have seq " + e.getValue()));
      }
    }
    return Optional.empty();
  }
}
