package io.kontrol.proxy.http;

import io.kontrol.proxy.consume.Delivery;

/**
 * What a route answers: a status, a body and its type, and the delivery it carries (a consumed
 * message), which learns whether the response reached the client.
 */
record Response(int status, byte[] body, String contentType, Delivery delivery) {
  static Response json(int status, byte[] body) {
    return new Response(status, body, "application/json", null);
  }
}
