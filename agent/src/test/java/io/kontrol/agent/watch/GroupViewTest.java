package io.kontrol.agent.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The leader's in-memory group against a real 3-member etcd: events applied in order, a watch
 * broken and resumed with nothing lost and nothing read again, a compaction that forces a read,
 * and the view equal to a fresh range read after random churn.
 */
@Timeout(180)
class GroupViewTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(3).build();

  private Group group;
  private ScheduledExecutorService loop;
  private final List<AutoCloseable> closing = new ArrayList<>();
  /** The record of "x" each time the view said "changed". */
  private final List<String> seen = new CopyOnWriteArrayList<>();
  private final AtomicInteger changes = new AtomicInteger();
  private GroupView view;

  @BeforeEach
  void setUp() {
    group = new Group("default", "view" + ThreadLocalRandom.current().nextInt(100_000, 999_999));
    loop = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "kontrol-callback-test"));
  }

  @AfterEach
  void tearDown() throws Exception {
    if (view != null) {
      view.close();
    }
    loop.shutdownNow();
    assertThat(loop.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    for (AutoCloseable c : closing) {
      c.close();
    }
  }

  /** A view on {@code client}, started; every change noted on the view's own thread. */
  private GroupView start(Client client) {
    view = new GroupView(client, group, loop, () -> {
      changes.incrementAndGet();
      view.pods().stream().filter(p -> p.id().equals("x")).findFirst().ifPresent(p -> seen.add(p.json()));
    }, Duration.ofSeconds(5));
    view.start();
    await().atMost(Duration.ofSeconds(15)).until(() -> view.reads() == 1);
    return view;
  }

  /** A client of members {@code members} only, closed after the test. */
  private Client client(int... members) {
    Client c = Client.builder().endpoints(java.util.Arrays.stream(members).mapToObj(ETCD::endpoint).toArray(String[]::new)).build();
    closing.add(c);
    return c;
  }

  private <T> T onLoop(Callable<T> c) throws Exception {
    return loop.submit(c).get(10, TimeUnit.SECONDS);
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  private static String record(String id, long seq, int v) {
    return "{\"id\":\"" + id + "\",\"seq\":" + seq + ",\"v\":" + v + "}";
  }

  private long put(KV kv, String id, long seq, int v) throws Exception {
    return kv.put(bytes(group.podKey(id)), bytes(record(id, seq, v))).get(5, TimeUnit.SECONDS).getHeader().getRevision();
  }

  /** Waits until the view holds revision {@code rev}, then checks it against a fresh range read. */
  private void assertEqualsARead(Client reader, long rev) throws Exception {
    await().atMost(Duration.ofSeconds(30)).until(() -> onLoop(view::revision) >= rev);
    Snapshot read = new SnapshotReader(reader.getKVClient(), Duration.ofSeconds(5)).read(group);
    assertThat(onLoop(view::pods)).as("the view at revision %d", rev).isEqualTo(read.pods());
    Snapshot fromView = onLoop(() -> view.snapshot(new SnapshotReader(reader.getKVClient(), Duration.ofSeconds(5))));
    assertThat(fromView.podsJson()).isEqualTo(read.podsJson());
    assertThat(fromView.md5()).isEqualTo(read.md5());
  }

  @Test
  void eventsAreAppliedInTheirOrderAndAnInvalidRecordIsLeftOutAsARangeReadLeavesItOut() throws Exception {
    Client c = ETCD.client();
    KV kv = c.getKVClient();
    put(kv, "b", 2, 0);
    start(c);
    assertThat(onLoop(view::pods)).extracting(Snapshot.Pod::id).containsExactly("b");

    long rev = 0;
    for (int v = 1; v <= 60; v++) {
      rev = put(kv, "x", 1, v);
    }
    // one transaction: three events of one revision
    kv.txn().Then(
        Op.put(bytes(group.podKey("a")), bytes(record("a", 3, 0)), PutOption.DEFAULT),
        Op.put(bytes(group.podKey("c")), bytes(record("c", 0, 0)), PutOption.DEFAULT),
        Op.delete(bytes(group.podKey("b")), DeleteOption.DEFAULT)).commit().get(5, TimeUnit.SECONDS);
    rev = kv.put(bytes(group.podKey("bad")), bytes("not json")).get(5, TimeUnit.SECONDS).getHeader().getRevision();
    assertEqualsARead(c, rev);
    assertThat(onLoop(view::pods)).extracting(Snapshot.Pod::id).containsExactly("c", "x", "a");
    assertThat(onLoop(view::pods).get(1).json()).isEqualTo(record("x", 1, 60));

    List<Integer> values = seen.stream().map(j -> Integer.parseInt(j.replaceAll(".*\"v\":(\\d+).*", "$1"))).toList();
    assertThat(values).as("the values of x each change saw").isSorted().endsWith(60);
    assertThat(view.reads()).as("no read after the first").isEqualTo(1);

    // a record made valid again is back; one made invalid is gone
    put(kv, "bad", 5, 0);
    rev = kv.put(bytes(group.podKey("a")), bytes("{")).get(5, TimeUnit.SECONDS).getHeader().getRevision();
    assertEqualsARead(c, rev);
    assertThat(onLoop(view::pods)).extracting(Snapshot.Pod::id).containsExactly("c", "x", "bad");
  }

  @Test
  void aWatchBrokenByItsEtcdMemberGoingAwayResumesWithNothingLostAndNothingReadAgain() throws Exception {
    // the view talks to member 0 only; the writes go to the others
    Client only0 = client(0);
    Client others = client(1, 2);
    put(others.getKVClient(), "a", 1, 0);
    start(only0);
    long rev = put(others.getKVClient(), "x", 2, 0);
    assertEqualsARead(others, rev);
    int before = changes.get();

    ETCD.stop(0);
    try {
      put(others.getKVClient(), "x", 2, 1);
      others.getKVClient().delete(bytes(group.podKey("a"))).get(5, TimeUnit.SECONDS);
      put(others.getKVClient(), "b", 3, 0);
      rev = put(others.getKVClient(), "x", 2, 2);
      assertThatThrownBy(() -> onLoop(() -> view.snapshot(new SnapshotReader(only0.getKVClient(), Duration.ofSeconds(1)))))
          .as("no snapshot while its etcd does not answer").isInstanceOf(ExecutionException.class);
    } finally {
      ETCD.start(0);
    }
    assertEqualsARead(others, rev);
    assertThat(onLoop(view::pods)).extracting(Snapshot.Pod::id).containsExactly("x", "b");
    assertThat(view.reads()).as("the watch resumed after its last event: no read").isEqualTo(1);
    assertThat(changes.get()).isGreaterThan(before);
    assertThat(seen).as("every value of x, in order, none missed").containsSubsequence(
        record("x", 2, 0), record("x", 2, 2));
  }

  @Test
  void aCompactionOfTheHistoryTheWatchMissedMakesTheViewReadTheGroupAgain() throws Exception {
    Client only0 = client(0);
    Client others = client(1, 2);
    put(others.getKVClient(), "a", 1, 0);
    start(only0);
    assertEqualsARead(others, put(others.getKVClient(), "b", 2, 0));

    // the view's loop is held until member 0 is back with the history compacted, so that the view
    // watches again only where the events it missed are gone (and not while member 0 catches up)
    CountDownLatch held = new CountDownLatch(1);
    loop.execute(() -> {
      try {
        held.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    long rev;
    try {
      ETCD.stop(0);
      try {
        others.getKVClient().delete(bytes(group.podKey("a"))).get(5, TimeUnit.SECONDS);
        put(others.getKVClient(), "c", 3, 0);
        rev = put(others.getKVClient(), "b", 2, 1);
        others.getKVClient().compact(rev).get(5, TimeUnit.SECONDS);
      } finally {
        ETCD.start(0);
      }
      long compacted = rev;
      await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
        try {
          only0.getKVClient().get(bytes(group.podKey("b")), GetOption.builder().withRevision(compacted - 1).build())
              .get(2, TimeUnit.SECONDS);
          return false;
        } catch (ExecutionException e) {
          return String.valueOf(e.getCause().getMessage()).contains("compacted"); // member 0 applied it
        }
      });
    } finally {
      held.countDown();
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> view.reads() == 2);
    assertEqualsARead(others, rev);
    assertThat(onLoop(view::pods)).extracting(Snapshot.Pod::id).containsExactly("b", "c");

    // and it follows the group from that read on
    assertEqualsARead(others, put(others.getKVClient(), "d", 4, 0));
    assertThat(view.reads()).isEqualTo(2);
  }

  @Test
  void anEtcdThatLostItsDataIsSeenByItsOlderRevisionAndTheGroupIsReadAgain() throws Exception {
    Client c = client(0, 1, 2);
    KV kv = c.getKVClient();
    start(c);
    long rev = 0;
    for (int v = 0; v < 30; v++) {
      rev = put(kv, "x", 1, v);
    }
    assertEqualsARead(c, rev);
    long before = onLoop(view::revision);

    ETCD.wipe();
    // the group registers again on the empty etcd, at revisions far below the view's
    await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> put(kv, "a", 1, 0) > 0);
    long after = put(kv, "b", 2, 0);
    assertThat(after).isLessThan(before);
    await().atMost(Duration.ofSeconds(30)).until(() -> view.reads() == 2);
    assertEqualsARead(c, after);
    assertThat(onLoop(view::pods)).extracting(Snapshot.Pod::id).containsExactly("a", "b");
  }

  /**
   * Random churn — joins, rewrites, leaves, leases revoked (several deletes at one revision),
   * transactions of several records — with the view checked against a range read along the way
   * and at the end.
   */
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5})
  void afterRandomChurnTheViewEqualsAFreshRangeRead(long seed) throws Exception {
    Random random = new Random(seed);
    Client c = ETCD.client();
    KV kv = c.getKVClient();
    List<Long> leases = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      leases.add(c.getLeaseClient().grant(60).get(5, TimeUnit.SECONDS).getID());
    }
    for (int i = 0; i < 20; i++) {
      put(kv, "p" + i, i, 0);
    }
    start(c);
    long rev = 0;
    for (int step = 1; step <= 300; step++) {
      String id = "p" + random.nextInt(40);
      int op = random.nextInt(10);
      if (op < 4) {
        rev = put(kv, id, random.nextInt(50), step);
      } else if (op < 6) {
        rev = kv.delete(bytes(group.podKey(id))).get(5, TimeUnit.SECONDS).getHeader().getRevision();
      } else if (op < 8) {
        long lease = leases.get(random.nextInt(leases.size()));
        rev = kv.put(bytes(group.podKey(id)), bytes(record(id, random.nextInt(50), step)),
            PutOption.builder().withLeaseId(lease).build()).get(5, TimeUnit.SECONDS).getHeader().getRevision();
      } else if (op < 9) {
        List<Op> ops = new ArrayList<>();
        for (int k = 0; k < 1 + random.nextInt(5); k++) {
          String other = "p" + (40 + random.nextInt(20) + 20 * k); // distinct keys in one transaction
          ops.add(random.nextBoolean()
              ? Op.put(bytes(group.podKey(other)), bytes(record(other, random.nextInt(50), step)), PutOption.DEFAULT)
              : Op.delete(bytes(group.podKey(other)), DeleteOption.DEFAULT));
        }
        rev = kv.txn().Then(ops.toArray(new Op[0])).commit().get(5, TimeUnit.SECONDS).getHeader().getRevision();
      } else {
        int i = random.nextInt(leases.size());
        c.getLeaseClient().revoke(leases.get(i)).get(5, TimeUnit.SECONDS);
        leases.set(i, c.getLeaseClient().grant(60).get(5, TimeUnit.SECONDS).getID());
        rev = kv.get(bytes(group.podKey(id))).get(5, TimeUnit.SECONDS).getHeader().getRevision();
      }
      if (step % 100 == 0) {
        assertEqualsARead(c, rev);
      }
    }
    assertEqualsARead(c, rev);
    assertThat(view.reads()).as("churn alone never reads the group again").isEqualTo(1);
    for (long lease : leases) {
      c.getLeaseClient().revoke(lease).get(5, TimeUnit.SECONDS);
    }
  }
}
