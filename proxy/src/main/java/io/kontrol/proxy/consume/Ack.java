package io.kontrol.proxy.consume;

/**
 * What a consume request acknowledges, as Pixy's API has it: by default ({@link #auto()}) the
 * message it returns, once that message has been sent to the client; with {@code noAck}
 * ({@link #none()}) nothing, so the client acknowledges later; with {@code ackPartition} and
 * {@code ackOffset} ({@link #of}) an earlier message, and the returned one stays unacknowledged.
 */
public record Ack(Mode mode, int partition, long offset) {

  public enum Mode {
    AUTO,
    NONE,
    EXPLICIT
  }

  public static Ack auto() {
    return new Ack(Mode.AUTO, -1, -1);
  }

  public static Ack none() {
    return new Ack(Mode.NONE, -1, -1);
  }

  public static Ack of(int partition, long offset) {
    if (partition < 0 || offset < 0) {
      throw new IllegalArgumentException("ack partition and offset must be >= 0");
    }
    return new Ack(Mode.EXPLICIT, partition, offset);
  }
}
