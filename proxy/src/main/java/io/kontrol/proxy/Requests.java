package io.kontrol.proxy;

import java.util.regex.Pattern;

/** Checks of what both APIs receive, with the errors a client is told. */
public final class Requests {
  private static final Pattern TOPIC = Pattern.compile("[a-zA-Z0-9._-]{1,249}");

  private Requests() {}

  /** A Kafka topic name: 1-249 of {@code [a-zA-Z0-9._-]}, not "." or "..". */
  public static String topic(String topic) {
    if (topic == null || topic.isEmpty()) {
      throw ProxyError.badRequest("topic: expected a topic name, got nothing");
    }
    if (!TOPIC.matcher(topic).matches() || topic.equals(".") || topic.equals("..")) {
      throw ProxyError.badRequest(
          "topic: '" + topic + "' is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)");
    }
    return topic;
  }

  /** A consumer group id: anything but empty. */
  public static String group(String group) {
    if (group == null || group.isEmpty()) {
      throw ProxyError.badRequest("group: a consumer group is expected, none was given");
    }
    return group;
  }
}
