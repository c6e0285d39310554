package io.kontrol.service.kafka;

import java.io.IOException;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.KafkaFuture;

/** The Admin clients of the Kafka commands: every request and every wait bounded. */
final class KafkaAdmins {

  static final int TIMEOUT_MS = 10_000;

  private KafkaAdmins() {}

  /** An Admin through the brokers ({@code host:9092,...}). */
  static Admin brokers(String bootstrap, String clientId) {
    return create(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap, clientId);
  }

  /** An Admin through the controllers ({@code host:9093,...}). */
  static Admin controllers(String bootstrap, String clientId) {
    return create(AdminClientConfig.BOOTSTRAP_CONTROLLERS_CONFIG, bootstrap, clientId);
  }

  private static Admin create(String key, String bootstrap, String clientId) {
    Properties p = new Properties();
    p.put(key, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, TIMEOUT_MS);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, TIMEOUT_MS);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId);
    return Admin.create(p);
  }

  /** The future's value, or an IOException naming {@code what} and why. */
  static <T> T get(KafkaFuture<T> f, String what) throws IOException {
    try {
      return f.get(TIMEOUT_MS + 2_000L, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IOException(what + ": " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IOException(what + ": no answer within " + (TIMEOUT_MS / 1000) + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(what + ": interrupted");
    }
  }
}
