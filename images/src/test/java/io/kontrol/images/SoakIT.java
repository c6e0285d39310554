package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The chaos soak's CI run ({@link Soak}, which {@code scripts/soak} runs for as long as asked): 4
 * NATS pods on a 3-member etcd under random faults for {@code soak.duration} (3 minutes, the
 * fixed seed {@code soak.seed} 13), then the planted violations of the control. Every invariant
 * must hold, the brokers must converge within the bound, and the checker must report both
 * planted violations (so it can fail).
 *
 * <p>A longer run: {@code -Dsoak.duration=30m -Dsoak.seed=N
 * -Djunit.jupiter.execution.timeout.mode=disabled} (CONTRIBUTING.md).
 */
@Timeout(value = 12, unit = TimeUnit.MINUTES)
class SoakIT {
  @Test
  void randomFaultsBreakNoInvariantAndTheCheckerReportsPlantedViolations() throws Exception {
    Duration duration = Soak.parseDuration(System.getProperty("kontrol.soak.duration", "3m"));
    long seed = Long.parseLong(System.getProperty("kontrol.soak.seed", "13"));
    Soak.Report r = Soak.run(new Soak.Options(duration, seed, true));
    System.out.println("soak of " + duration.toSeconds() + " s, seed " + seed + ":\n" + r.table());

    assertThat(r.faults().values().stream().mapToInt(Integer::intValue).sum())
        .as("faults injected").isGreaterThanOrEqualTo((int) Math.max(1, duration.toSeconds() / 30));
    assertThat(r.checks().get(SoakInvariants.ONE_LEADER)).as("callback runs seen").isPositive();
    assertThat(r.checks().get(SoakInvariants.UNIQUE_SEQ)).as("seq reads").isPositive();
    assertThat(r.violations()).as(r.table()).isEmpty();
    assertThat(r.converged()).as("converged within TTL + damper + 10 s").isNotNull();
    assertThat(r.controlDetected()).as("the planted violations, reported")
        .extracting(SoakInvariants.Violation::invariant)
        .contains(SoakInvariants.STATE_BY_LEADER, SoakInvariants.UNIQUE_SEQ);
  }
}
