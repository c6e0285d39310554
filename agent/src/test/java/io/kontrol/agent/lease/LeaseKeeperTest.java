package io.kontrol.agent.lease;

import static org.assertj.core.api.Assertions.assertThat;

import io.etcd.jetcd.Lease;
import io.etcd.jetcd.lease.LeaseGrantResponse;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.lease.LeaseRevokeResponse;
import io.etcd.jetcd.lease.LeaseTimeToLiveResponse;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.support.CloseableClient;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.kontrol.agent.testing.EtcdCluster;
import io.kontrol.agent.testing.VirtualScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The lease keeper's decisions in virtual time against a real etcd: keepalives every TTL/3, a
 * whole TTL (less a margin) without a successful keepalive means the lease is lost and a new one is granted, a
 * lease etcd no longer knows is lost at the next keepalive. etcd's answers are real (and take no
 * virtual time); only "etcd is unreachable" is decided by the test ({@link Reachable}), so each
 * instant is exact.
 */
@Timeout(60)
class LeaseKeeperTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  static final Duration TTL = Duration.ofSeconds(3);

  final VirtualScheduler time = new VirtualScheduler();
  final Reachable etcd = new Reachable(ETCD.client().getLeaseClient(), time);
  /** What the listener heard, with the virtual instant: "lease@1.000", "lost@3.000". */
  final List<String> heard = new ArrayList<>();
  final List<Long> leases = new ArrayList<>();
  final LeaseKeeper keeper =
      new LeaseKeeper(
          etcd,
          TTL,
          "test",
          time,
          time::nanoTime,
          new LeaseKeeper.Listener() {
            @Override
            public void onLease(long leaseId) {
              heard.add("lease@" + at());
              leases.add(leaseId);
            }

            @Override
            public void onLost(long leaseId) {
              heard.add("lost@" + at());
            }
          });

  String at() {
    return String.format("%.3f", time.elapsed().toNanos() / 1e9);
  }

  @AfterEach
  void close() {
    keeper.close(Duration.ofSeconds(2));
  }

  static Duration s(double seconds) {
    return Duration.ofMillis(Math.round(seconds * 1000));
  }

  /** etcd's remaining TTL for a lease, -1 when etcd does not know it. */
  static long ttlInEtcd(long id) throws Exception {
    return ETCD.client().getLeaseClient().timeToLive(id, LeaseOption.DEFAULT).get(5, TimeUnit.SECONDS).getTTL();
  }

  @Test
  void aHeldLeaseIsKeptAliveEveryThirdOfItsTtl() throws Exception {
    keeper.start();
    time.runDue();
    assertThat(heard).containsExactly("lease@0.000");
    time.advance(s(30));
    assertThat(etcd.keepalives).containsExactly(
        "1.000", "2.000", "3.000", "4.000", "5.000", "6.000", "7.000", "8.000", "9.000", "10.000",
        "11.000", "12.000", "13.000", "14.000", "15.000", "16.000", "17.000", "18.000", "19.000", "20.000",
        "21.000", "22.000", "23.000", "24.000", "25.000", "26.000", "27.000", "28.000", "29.000", "30.000");
    assertThat(heard).containsExactly("lease@0.000");
    assertThat(keeper.isLive()).isTrue();
    assertThat(keeper.leaseId()).isEqualTo(leases.get(0));
    assertThat(ttlInEtcd(leases.get(0))).isPositive();
  }

  /**
   * The lease is given up a margin (TTL/10) before the earliest moment etcd could expire it, a TTL
   * after the last good keepalive was sent: whoever acts on it stops before etcd hands it on.
   */
  @Test
  void aTtlWithoutASuccessfulKeepaliveGivesLossAMarginBeforeItAndThenANewLease() throws Exception {
    keeper.start();
    time.runDue();
    long first = leases.get(0);
    etcd.cutOff = true;
    time.advance(s(2.6));
    assertThat(etcd.keepalives).containsExactly("1.000", "1.500", "2.000", "2.500");
    assertThat(heard).containsExactly("lease@0.000");
    assertThat(keeper.isLive()).isTrue();
    time.advance(s(0.1));
    assertThat(heard).containsExactly("lease@0.000", "lost@2.700"); // 0.000 + TTL - TTL/10
    assertThat(keeper.isLive()).isFalse();
    assertThat(keeper.leaseId()).isZero();
    time.advance(s(2.1)); // etcd still unreachable: grants fail, retried every TTL/6
    assertThat(etcd.grants).containsExactly("0.000", "2.700", "3.200", "3.700", "4.200", "4.700");
    etcd.cutOff = false;
    time.advance(s(0.5));
    assertThat(heard).containsExactly("lease@0.000", "lost@2.700", "lease@5.200");
    assertThat(keeper.isLive()).isTrue();
    assertThat(leases.get(1)).isNotEqualTo(first);
    // the old lease, which etcd kept (it never expired there), is revoked once the new one is held
    assertThat(ttlInEtcd(first)).isEqualTo(-1);
    assertThat(ttlInEtcd(leases.get(1))).isPositive();
  }

  @Test
  void aKeepaliveThatSucceedsCountsFromWhenItWasSent() throws Exception {
    keeper.start();
    time.runDue();
    time.advance(s(2.0)); // keepalives sent at 1.000 and 2.000 succeed
    etcd.cutOff = true;
    time.advance(s(4.6)); // the next ones fail: lost at 2.000 + 2.700
    assertThat(heard).containsExactly("lease@0.000", "lost@4.700");
  }

  @Test
  void keepalivesFailingForLessThanATtlLoseNothing() throws Exception {
    keeper.start();
    time.runDue();
    time.advance(s(0.5));
    etcd.cutOff = true;
    time.advance(s(1.7)); // 1.0, 1.5, 2.0 fail
    etcd.cutOff = false;
    time.advance(s(3.8)); // 2.5 succeeds; then every TTL/3 again
    assertThat(etcd.keepalives).containsExactly("1.000", "1.500", "2.000", "2.500", "3.500", "4.500", "5.500");
    assertThat(heard).containsExactly("lease@0.000");
    assertThat(keeper.leaseId()).isEqualTo(leases.get(0));
    assertThat(ttlInEtcd(leases.get(0))).isPositive();
  }

  @Test
  void aLeaseEtcdNoLongerKnowsIsLostAtTheNextKeepaliveAndReplacedAtOnce() throws Exception {
    keeper.start();
    time.runDue();
    long first = leases.get(0);
    ETCD.client().getLeaseClient().revoke(first).get(5, TimeUnit.SECONDS);
    time.advance(s(1));
    assertThat(heard).containsExactly("lease@0.000", "lost@1.000", "lease@1.000");
    assertThat(leases.get(1)).isNotEqualTo(first);
    assertThat(keeper.isLive()).isTrue();
  }

  @Test
  void closeRevokesTheLeaseAndStopsTheKeepalives() throws Exception {
    keeper.start();
    time.runDue();
    keeper.close(Duration.ofSeconds(2));
    assertThat(ttlInEtcd(leases.get(0))).isEqualTo(-1);
    time.advance(s(30));
    assertThat(etcd.keepalives).isEmpty();
    assertThat(time.pending()).isZero();
  }

  /**
   * etcd's lease API, passed through to the real etcd unless the test has cut it off; then every
   * call fails at once with UNAVAILABLE, as a client cut off from etcd sees. Records the virtual
   * instant of each grant and keepalive.
   */
  static final class Reachable implements Lease {
    private final Lease real;
    private final VirtualScheduler time;
    volatile boolean cutOff;
    final List<String> grants = new ArrayList<>();
    final List<String> keepalives = new ArrayList<>();

    Reachable(Lease real, VirtualScheduler time) {
      this.real = real;
      this.time = time;
    }

    private String now() {
      return String.format("%.3f", time.elapsed().toNanos() / 1e9);
    }

    /**
     * The real answer, waited for here (a loaded machine's etcd may take longer than the
     * keeper's call timeout to commit a grant): etcd answers in no virtual time.
     */
    private <T> CompletableFuture<T> unlessCutOff(java.util.function.Supplier<CompletableFuture<T>> call) {
      if (cutOff) {
        return CompletableFuture.failedFuture(Status.UNAVAILABLE.withDescription("cut off by the test").asRuntimeException());
      }
      try {
        return CompletableFuture.completedFuture(call.get().get(20, TimeUnit.SECONDS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return CompletableFuture.failedFuture(e);
      } catch (java.util.concurrent.ExecutionException e) {
        return CompletableFuture.failedFuture(e.getCause());
      } catch (java.util.concurrent.TimeoutException e) {
        throw new AssertionError("etcd did not answer within 20 s", e);
      }
    }

    @Override
    public CompletableFuture<LeaseGrantResponse> grant(long ttl) {
      grants.add(now());
      return unlessCutOff(() -> real.grant(ttl));
    }

    @Override
    public CompletableFuture<LeaseGrantResponse> grant(long ttl, long timeout, TimeUnit unit) {
      grants.add(now());
      return unlessCutOff(() -> real.grant(ttl, timeout, unit));
    }

    @Override
    public CompletableFuture<LeaseRevokeResponse> revoke(long id) {
      return unlessCutOff(() -> real.revoke(id));
    }

    @Override
    public CompletableFuture<LeaseKeepAliveResponse> keepAliveOnce(long id) {
      keepalives.add(now());
      return unlessCutOff(() -> real.keepAliveOnce(id));
    }

    @Override
    public CompletableFuture<LeaseTimeToLiveResponse> timeToLive(long id, LeaseOption option) {
      return unlessCutOff(() -> real.timeToLive(id, option));
    }

    @Override
    public CloseableClient keepAlive(long id, StreamObserver<LeaseKeepAliveResponse> observer) {
      throw new UnsupportedOperationException("the keeper sends single keepalives");
    }

    @Override
    public void close() {
      // the real client belongs to the cluster fixture
    }
  }
}
