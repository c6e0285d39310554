package io.kontrol.proxy.http;

import io.kontrol.proxy.ProxyError;
import java.util.List;
import java.util.Map;

/** A request's query parameters, read the way Pixy reads them, with a 400 for a malformed one. */
final class Query {
  private final Map<String, List<String>> params;

  Query(Map<String, List<String>> params) {
    this.params = params;
  }

  /** Present at all, whatever its value (Pixy's {@code sync}, {@code noAck}). */
  boolean flag(String name) {
    return params.containsKey(name);
  }

  /** Its first value; null when absent; "" when present without a value. */
  String first(String name) {
    List<String> v = params.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  /** Exactly one value, or none when {@code optional}. */
  String single(String name, boolean optional) {
    List<String> v = params.get(name);
    int n = v == null ? 0 : v.size();
    if (n > 1 || (n == 0 && !optional)) {
      throw ProxyError.badRequest("one " + name + " is expected, but " + n + " provided");
    }
    return n == 0 ? "" : v.get(0);
  }

  /** A non-negative integer of at most {@code max}; null when absent. */
  Long number(String name, long max) {
    String s = single(name, true);
    if (!params.containsKey(name)) {
      return null;
    }
    try {
      long v = Long.parseLong(s);
      if (v < 0 || v > max) {
        throw new NumberFormatException();
      }
      return v;
    } catch (NumberFormatException e) {
      throw ProxyError.badRequest(name + ": expected an integer from 0 to " + max + ", got '" + s + "'");
    }
  }
}
