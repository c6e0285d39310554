package io.kontrol.agent.watch;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Optional;

/**
 * A group as read at one etcd revision: the live records ordered by {@code seq}, {@code $PODS}
 * (their exact bytes as one JSON array), {@code $MD5} of those bytes, the last state, and the
 * group's configuration ({@code $CONFIG}) with its revision.
 */
public final class Snapshot {
  /** One live record: its pod id, seq and exact JSON. */
  public record Pod(String id, long seq, String json) {}

  private final List<Pod> pods;
  private final String podsJson;
  private final String md5;
  private final Optional<String> state;
  private final long revision;
  private final List<String> members;
  private final Optional<String> config;
  private final long configRevision;

  public Snapshot(List<Pod> podsBySeq, Optional<String> state, long revision) {
    this(podsBySeq, state, revision, List.of());
  }

  /**
   * @param members the ids the last successful callback ran on ({@code G/members}), empty when
   *     none was written
   */
  public Snapshot(List<Pod> podsBySeq, Optional<String> state, long revision, List<String> members) {
    this(podsBySeq, state, revision, members, Optional.empty(), 0);
  }

  /**
   * @param config the group's configuration document as stored ({@code G/config}), if any
   * @param configRevision its mod revision, 0 when there is none
   */
  public Snapshot(
      List<Pod> podsBySeq,
      Optional<String> state,
      long revision,
      List<String> members,
      Optional<String> config,
      long configRevision) {
    this.pods = List.copyOf(podsBySeq);
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < pods.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(pods.get(i).json());
    }
    this.podsJson = sb.append(']').toString();
    this.md5 = md5(podsJson);
    this.state = state;
    this.revision = revision;
    this.members = List.copyOf(members);
    this.config = config;
    this.configRevision = configRevision;
  }

  /** {@code $CONFIG}: the group's configuration document ({@code G/config}), if one is stored. */
  public Optional<String> config() {
    return config;
  }

  /** {@code $CONFIG_REVISION}: the etcd revision that wrote {@link #config()}, 0 when none. */
  public long configRevision() {
    return configRevision;
  }

  public List<Pod> pods() {
    return pods;
  }

  /** {@code $PODS}: the records as a JSON array, ordered by seq. */
  public String podsJson() {
    return podsJson;
  }

  /** {@code $MD5} (and {@code $HASH}): 16 colon-separated lowercase hex pairs. */
  public String md5() {
    return md5;
  }

  /** {@code $STATE}: what the last successful callback printed, if any. */
  public Optional<String> state() {
    return state;
  }

  public long revision() {
    return revision;
  }

  /** The ids the last successful callback ran on, as the leader wrote them with its state. */
  public List<String> members() {
    return members;
  }

  /** The ids of the live records, in seq order. */
  public List<String> ids() {
    return pods.stream().map(Pod::id).toList();
  }

  /** MD5 of the UTF-8 bytes of {@code s} as {@code 0a:1b:...} (16 pairs). */
  public static String md5(String s) {
    try {
      byte[] d = MessageDigest.getInstance("MD5").digest(s.getBytes(StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder(47);
      for (int i = 0; i < d.length; i++) {
        if (i > 0) {
          sb.append(':');
        }
        sb.append(Character.forDigit((d[i] >> 4) & 0xf, 16)).append(Character.forDigit(d[i] & 0xf, 16));
      }
      return sb.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("MD5 is missing from this JVM", e);
    }
  }

  @Override
  public String toString() {
    return "Snapshot{pods=" + pods.size() + ", md5=" + md5 + ", rev=" + revision + "}";
  }
}
