package io.kontrol.service.kafka;

/**
 * Whether Kafka's client library is on the class path. kontrol.jar does not carry it (it would
 * add 10 MB to every image): its manifest names {@code /opt/kafka/libs/kafka-clients-<v>.jar},
 * which only the kontrol/kafka image has, and a Class-Path entry that does not exist is ignored.
 */
public final class KafkaClients {

  private KafkaClients() {}

  /** @return null when present, else a one-line reason for the operator */
  public static String missing() {
    try {
      Class.forName("org.apache.kafka.clients.admin.Admin", false, KafkaClients.class.getClassLoader());
      return null;
    } catch (ClassNotFoundException | LinkageError e) {
      return "Kafka's client library is not on the class path (the kontrol/kafka image has it in /opt/kafka/libs)";
    }
  }
}
