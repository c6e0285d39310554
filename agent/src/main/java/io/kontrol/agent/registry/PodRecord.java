package io.kontrol.agent.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.Map;
import java.util.TreeMap;

/**
 * A pod's record in a group (SPEC §3): one JSON object, keys sorted, no spaces:
 * {@code {"app","id","ip","key","nonce","payload","role","seq"}}. The payload's own keys are
 * sorted too, so equal records are equal bytes and the group digest is stable.
 */
public final class PodRecord {
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
  private static final String DIGITS =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

  private PodRecord() {}

  /** The record's exact bytes as stored in etcd. */
  public static String json(
      String app, String id, String ip, String nonce, JsonNode payload, String role, long seq) {
    Map<String, Object> m = new TreeMap<>();
    m.put("app", app);
    m.put("id", id);
    m.put("ip", ip);
    m.put("key", base62(ip));
    m.put("nonce", nonce);
    m.put("payload", JSON.convertValue(payload, Object.class));
    m.put("role", role);
    m.put("seq", seq);
    try {
      return JSON.writeValueAsString(m);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a record", e);
    }
  }

  /**
   * Base-62 of an IPv4 read as an unsigned 32-bit integer, digits then lowercase then uppercase:
   * {@code 0.0.0.0} → {@code "0"}, {@code 10.0.0.1} → {@code "blXcB"}.
   */
  public static String base62(String ipv4) {
    String[] parts = ipv4.split("\\.");
    if (parts.length != 4) {
      throw new IllegalArgumentException("not an IPv4 address: " + ipv4);
    }
    long n = 0;
    for (String p : parts) {
      int octet = Integer.parseInt(p);
      if (octet < 0 || octet > 255) {
        throw new IllegalArgumentException("not an IPv4 address: " + ipv4);
      }
      n = (n << 8) | octet;
    }
    if (n == 0) {
      return "0";
    }
    StringBuilder sb = new StringBuilder();
    while (n > 0) {
      sb.append(DIGITS.charAt((int) (n % 62)));
      n /= 62;
    }
    return sb.reverse().toString();
  }
}
