package io.kontrol.service.haproxy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The {@code hosts} variable of the HAProxy template: app to the IPs of its pods, keys sorted and
 * IPs sorted and de-duplicated, so that the same members in another order render the same file
 * (the original hashed an unsorted dump, and a reordering renamed {@code {{key}}-{{loop.index}}}).
 */
public final class Hosts {

  private static final ObjectMapper JSON = new ObjectMapper();

  private Hosts() {}

  /** @throws IllegalArgumentException when {@code node} is not an object of arrays of strings */
  public static Map<String, List<String>> canonical(JsonNode node) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      return Map.of();
    }
    if (!node.isObject()) {
      throw new IllegalArgumentException("\"hosts\" must be an object of app -> [ip, ...], got " + node.getNodeType());
    }
    TreeMap<String, List<String>> hosts = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().isArray()) {
        throw new IllegalArgumentException("\"hosts\"." + e.getKey() + " must be an array of IPs, got " + e.getValue().getNodeType());
      }
      TreeSet<String> ips = new TreeSet<>(Hosts::compareIps);
      for (JsonNode ip : e.getValue()) {
        if (!ip.isTextual() || ip.asText().isBlank()) {
          throw new IllegalArgumentException("\"hosts\"." + e.getKey() + " holds " + ip + ", expected IP strings");
        }
        ips.add(ip.asText());
      }
      hosts.put(e.getKey(), List.copyOf(ips));
    }
    return hosts;
  }

  /** Sorts a map built elsewhere the same way. */
  public static Map<String, List<String>> canonical(Map<String, ? extends Iterable<String>> raw) {
    TreeMap<String, List<String>> hosts = new TreeMap<>();
    raw.forEach(
        (app, ips) -> {
          TreeSet<String> sorted = new TreeSet<>(Hosts::compareIps);
          ips.forEach(sorted::add);
          hosts.put(app, new ArrayList<>(sorted));
        });
    return hosts;
  }

  /** Numeric order for dotted IPv4 (10.0.0.9 before 10.0.0.10), text order otherwise. */
  static int compareIps(String a, String b) {
    long x = ipv4(a);
    long y = ipv4(b);
    if (x >= 0 && y >= 0) {
      return Long.compare(x, y);
    }
    return a.compareTo(b);
  }

  private static long ipv4(String ip) {
    String[] parts = ip.split("\\.", -1);
    if (parts.length != 4) {
      return -1;
    }
    long value = 0;
    for (String part : parts) {
      if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(Character::isDigit)) {
        return -1;
      }
      int n = Integer.parseInt(part);
      if (n > 255) {
        return -1;
      }
      value = value * 256 + n;
    }
    return value;
  }

  /** The canonical JSON of {@code hosts}. */
  public static String json(Map<String, List<String>> hosts) {
    try {
      return JSON.writeValueAsString(new TreeMap<>(hosts));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a map of string lists always serialises", e);
    }
  }

  /** MD5 of {@link #json}, lowercase hex. */
  public static String md5(Map<String, List<String>> hosts) {
    try {
      byte[] digest = MessageDigest.getInstance("MD5").digest(json(hosts).getBytes(StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JRE has MD5", e);
    }
  }
}
