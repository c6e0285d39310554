package io.kontrol.proxy.consume;

/**
 * A message handed to one consume request. The API layer calls {@link #sent()} once the response
 * carrying it has been written (with auto-ack, that acknowledges it), or {@link #failed()} when
 * the client went away first (the message is then offered again at once, whatever the ack mode).
 */
public final class Delivery {
  private final Message message;
  private final GroupConsumer owner;
  private final boolean autoAck;

  Delivery(Message message, GroupConsumer owner, boolean autoAck) {
    this.message = message;
    this.owner = owner;
    this.autoAck = autoAck;
  }

  public Message message() {
    return message;
  }

  public void sent() {
    if (autoAck) {
      owner.ack(message.partition(), message.offset());
    }
  }

  public void failed() {
    owner.release(message.partition(), message.offset());
  }
}
