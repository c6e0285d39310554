package io.kontrol.agent.groupconfig;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.PutResponse;
import io.kontrol.agent.group.Group;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A group's configuration in etcd, at {@link Group#configKey()} ({@code /kontrol/<ns>/<app>/config},
 * no lease): read and written whole, versioned by the key's mod revision. Only a validated {@link
 * GroupConfig} is ever written.
 */
public final class GroupConfigStore {

  /** etcd did not answer within the timeout, or failed. */
  public static final class Unreachable extends Exception {
    private static final long serialVersionUID = 1L;

    Unreachable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * What etcd holds: the document as stored and its revision (the key's mod revision).
   *
   * @param json the stored text, exactly
   * @param revision the revision of the put that wrote it
   */
  public record Stored(String json, long revision) {
    /**
     * The stored document, validated again (a document written around kontrol, with etcdctl,
     * may not be valid).
     */
    public GroupConfig config() throws GroupConfigException {
      return GroupConfig.parse(json);
    }
  }

  private final KV kv;
  private final Duration timeout;

  public GroupConfigStore(KV kv, Duration timeout) {
    this.kv = kv;
    this.timeout = timeout;
  }

  /** The group's stored configuration; empty when none was ever put. */
  public Optional<Stored> get(Group group) throws Unreachable, InterruptedException {
    GetResponse r = await(kv.get(key(group)), "read " + group.configKey());
    if (r.getKvs().isEmpty()) {
      return Optional.empty();
    }
    KeyValue v = r.getKvs().get(0);
    return Optional.of(new Stored(v.getValue().toString(StandardCharsets.UTF_8), v.getModRevision()));
  }

  /** Stores {@code config} (its canonical form) and returns its revision. */
  public long put(Group group, GroupConfig config) throws Unreachable, InterruptedException {
    PutResponse r =
        await(kv.put(key(group), ByteSequence.from(config.json(), StandardCharsets.UTF_8)), "write " + group.configKey());
    return r.getHeader().getRevision();
  }

  private static ByteSequence key(Group group) {
    return ByteSequence.from(group.configKey(), StandardCharsets.UTF_8);
  }

  private <T> T await(java.util.concurrent.CompletableFuture<T> f, String what) throws Unreachable, InterruptedException {
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new Unreachable("etcd did not answer within " + timeout.toMillis() + " ms (" + what + ")", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause() == null ? e : e.getCause();
      throw new Unreachable("etcd failed to " + what + ": " + c.getMessage(), c);
    }
  }
}
