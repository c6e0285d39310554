package io.kontrol.agent.callback;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(5)
class DamperTest {
  static final long S = 1_000_000_000L;
  final Damper damper = new Damper(Duration.ofSeconds(10), Duration.ofSeconds(40));

  @Test
  void waitsForQuietAfterTheLastChange() {
    assertThat(damper.remaining(0, 0, 0)).contains(Duration.ofSeconds(10));
    assertThat(damper.remaining(0, 5 * S, 6 * S)).contains(Duration.ofSeconds(9));
    assertThat(damper.remaining(0, 5 * S, 15 * S)).isEmpty();
  }

  @Test
  void constantChurnCannotStarveTheCallbackPastTheMax() {
    // a change every 5 s forever: quiet never comes, the max bound does
    long first = 0;
    for (long t = 0; t < 40 * S; t += 5 * S) {
      assertThat(damper.remaining(first, t, t)).isPresent();
    }
    assertThat(damper.remaining(first, 39 * S, 39 * S)).contains(Duration.ofSeconds(1));
    assertThat(damper.remaining(first, 40 * S, 40 * S)).isEmpty();
  }

  @Test
  void zeroDamperIsDueAtOnce() {
    Damper zero = new Damper(Duration.ZERO, Duration.ZERO);
    assertThat(zero.remaining(7, 7, 7)).isEqualTo(Optional.empty());
  }

  @Test
  void rejectsAMaxBelowTheQuietTime() {
    assertThatThrownBy(() -> new Damper(Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void backoffDoublesUpToItsCap() {
    Backoff b = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(5));
    assertThat(b.delay(1)).isEqualTo(Duration.ofSeconds(1));
    assertThat(b.delay(2)).isEqualTo(Duration.ofSeconds(2));
    assertThat(b.delay(3)).isEqualTo(Duration.ofSeconds(4));
    assertThat(b.delay(4)).isEqualTo(Duration.ofSeconds(5));
    assertThat(b.delay(100)).isEqualTo(Duration.ofSeconds(5));
  }
}
