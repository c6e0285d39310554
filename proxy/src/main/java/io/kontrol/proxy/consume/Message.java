package io.kontrol.proxy.consume;

import org.apache.kafka.common.header.Headers;

/** One consumed record: key null when it had none; headers as Kafka has them. */
public record Message(String topic, int partition, long offset, byte[] key, byte[] value, Headers headers) {}
