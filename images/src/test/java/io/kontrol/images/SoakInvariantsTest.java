package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The soak's checker on logs and events written by hand: what it must report, and what not. */
@Timeout(10)
class SoakInvariantsTest {
  static final String LOG = String.join("\n",
      "2026-12-01T12:00:00.000Z INFO  agent started pod=a ip=10.0.0.1",
      "2026-12-01T12:00:01.000Z INFO  callback started group=default/nats pod=a digest=x pods=2",
      "configure: nats-server reloaded with /data/nats/nats.conf",
      "2026-12-01T12:00:02.000Z INFO  callback done group=default/nats pod=a digest=x took=900ms state={\"peers\":[1]}",
      "2026-12-01T12:00:05.000Z INFO  callback started group=default/nats pod=a digest=y pods=3",
      "2026-12-01T12:00:06.500Z WARN  callback failed group=default/nats pod=a digest=y reason=exit 1");

  static Instant t(String hms) {
    return Instant.parse("2026-12-01T" + hms + "Z");
  }

  @Test
  void runsAreReadFromTheAgentsLines() {
    List<SoakInvariants.Line> lines = SoakInvariants.callbackLines(LOG);
    assertThat(lines).hasSize(4);
    assertThat(SoakInvariants.runs(lines, List.of(), t("12:01:00"))).containsExactly(
        new SoakInvariants.Run("a", t("12:00:01"), t("12:00:02")),
        new SoakInvariants.Run("a", t("12:00:05"), t("12:00:06.500")));
  }

  @Test
  void aRunWithNoEndLineEndsWhenItsPodWasKilled() {
    List<SoakInvariants.Line> lines = SoakInvariants.callbackLines(
        "2026-12-01T12:00:01.000Z INFO  callback started group=default/nats pod=a digest=x pods=2");
    assertThat(SoakInvariants.runs(lines, List.of(t("12:00:00"), t("12:00:03")), t("12:01:00")))
        .containsExactly(new SoakInvariants.Run("a", t("12:00:01"), t("12:00:03")));
  }

  @Test
  void twoPodsRunningAtOnceIsReportedOneAfterTheOtherIsNot() {
    SoakInvariants.Run a = new SoakInvariants.Run("a", t("12:00:01"), t("12:00:03"));
    SoakInvariants.Run b = new SoakInvariants.Run("b", t("12:00:02.900"), t("12:00:04"));
    SoakInvariants.Run c = new SoakInvariants.Run("c", t("12:00:04.001"), t("12:00:05"));
    assertThat(SoakInvariants.overlaps(List.of(a, c))).isEmpty();
    assertThat(SoakInvariants.overlaps(List.of(c, b, a)))
        .singleElement().satisfies(v -> {
          assertThat(v.invariant()).isEqualTo(SoakInvariants.ONE_LEADER);
          assertThat(v.detail()).contains("a ran").contains("b started");
        });
    // one pod's runs follow each other: never an overlap with itself
    assertThat(SoakInvariants.overlaps(List.of(a, new SoakInvariants.Run("a", t("12:00:02"), t("12:00:06"))))).isEmpty();
  }

  @Test
  void aStateWriteMustBeARunOfTheLeaderAtItsRevision() {
    Map<String, List<SoakInvariants.Line>> lines = Map.of(
        "a", SoakInvariants.callbackLines(LOG),
        "b", List.of());
    assertThat(SoakInvariants.stateWrites(List.of(new SoakInvariants.StateWrite(10, t("12:00:02.100"), "a", "{\"peers\":[1]}")), lines, 3_000)).isEmpty();
    assertThat(SoakInvariants.stateWrites(List.of(new SoakInvariants.StateWrite(10, t("12:00:02.100"), "b", "{\"peers\":[1]}")), lines, 3_000))
        .singleElement().satisfies(v -> assertThat(v.detail()).contains("leader b").contains("[a]"));
    assertThat(SoakInvariants.stateWrites(List.of(new SoakInvariants.StateWrite(11, t("12:00:30"), "a", "{\"peers\":[1]}")), lines, 3_000))
        .singleElement().satisfies(v -> assertThat(v.detail()).contains("no run of any pod"));
    // the leader's run ended then, but wrote something else: a write from elsewhere
    assertThat(SoakInvariants.stateWrites(List.of(new SoakInvariants.StateWrite(13, t("12:00:02.100"), "a", "{\"planted\":true}")), lines, 3_000))
        .singleElement().satisfies(v -> assertThat(v.detail()).contains("no run of any pod"));
    assertThat(SoakInvariants.stateWrites(List.of(new SoakInvariants.StateWrite(12, t("12:00:02"), null, "{}")), lines, 3_000))
        .singleElement().satisfies(v -> assertThat(v.detail()).contains("no pod led"));
  }

  @Test
  void twoLivePodsWithOneSeqIsReported() {
    assertThat(SoakInvariants.seqs(t("12:00:00"), Map.of("a", 0L, "b", 1L, "c", 2L))).isEmpty();
    assertThat(SoakInvariants.seqs(t("12:00:00"), Map.of("a", 0L, "b", 1L, "c", 1L)))
        .hasValueSatisfying(v -> assertThat(v.detail()).isEqualTo("b and c both have seq 1"));
  }
}
