package io.kontrol.charts;

import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.api.model.APIVersionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A STAND-IN for the Kubernetes API server: fabric8's mock server in CRUD mode on loopback, plus
 * the core discovery documents Helm asks for, recording every request it gets. It stores whatever
 * it is sent and enforces nothing (no RBAC, no admission, no controllers).
 *
 * <p>Helm's {@code lookup} (the peer token Secret, kept across upgrades) asks a cluster even in
 * {@code helm template}; without one it fails, with this one it finds what the test put there. Helm
 * reads the kubeconfig named by {@code KUBECONFIG}, which the build points at {@link #KUBECONFIG};
 * {@link #forHelm()} writes it before Helm first runs.
 */
final class ApiServer implements AutoCloseable {

  static final Path KUBECONFIG = Path.of(System.getProperty("kontrol.kubeconfig", "target/helm/kubeconfig"));

  private static final KubernetesSerialization JSON = new KubernetesSerialization();
  /** The mock server logs every request at INFO: kept (a strong reference) at WARNING. */
  private static final java.util.logging.Logger QUIET = quiet("io.fabric8.mockwebserver");
  private static ApiServer forHelm;

  private final KubernetesMockServer server;
  private final KubernetesClient client;
  private final List<RecordedRequest> requests = new CopyOnWriteArrayList<>();

  /** Decides whether a request is allowed; a refused one gets 403, as from an API server's RBAC. */
  @FunctionalInterface
  interface Authorizer {
    boolean allows(RecordedRequest request);
  }

  ApiServer() {
    this(request -> true);
  }

  ApiServer(Authorizer authorizer) {
    KubernetesMixedDispatcher crud = new KubernetesMixedDispatcher(new HashMap<>()) {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        requests.add(request);
        String path = request.getPath().replaceFirst("\\?.*", "");
        if (path.equals("/api")) {
          return json(new APIVersionsBuilder().withVersions("v1").build());
        }
        if (path.equals("/api/v1")) {
          return json(new APIResourceListBuilder().withGroupVersion("v1")
              .addToResources(resource("pods", "Pod", true), resource("secrets", "Secret", true),
                  resource("nodes", "Node", false), resource("services", "Service", true))
              .build());
        }
        if (!authorizer.allows(request)) {
          return new MockResponse().setResponseCode(403).setHeader("Content-Type", "application/json")
              .setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Forbidden\",\"code\":403,"
                  + "\"message\":\"forbidden by the rendered RBAC: " + request.getMethod() + " " + request.getPath().replace("\"", "") + "\"}");
        }
        return super.dispatch(request);
      }
    };
    server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), crud, false);
    server.init(InetAddress.getLoopbackAddress(), 0);
    client = server.createClient();
  }

  /** The one Helm uses, started once per test JVM (it lives as long as the JVM). */
  static synchronized ApiServer forHelm() {
    if (forHelm == null) {
      forHelm = new ApiServer();
      forHelm.writeKubeconfig(KUBECONFIG);
    }
    return forHelm;
  }

  private static java.util.logging.Logger quiet(String name) {
    java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
    logger.setLevel(java.util.logging.Level.WARNING);
    return logger;
  }

  KubernetesClient client() {
    return client;
  }

  /** Every request so far, in order. */
  List<RecordedRequest> requests() {
    return List.copyOf(requests);
  }

  /** A client of its own, told apart from others in {@link #requests()} by its User-Agent. */
  KubernetesClient client(String userAgent) {
    return new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(
        new io.fabric8.kubernetes.client.ConfigBuilder(io.fabric8.kubernetes.client.Config.empty())
            .withMasterUrl(url()).withUserAgent(userAgent).withNamespace(Charts.NAMESPACE)
            .withRequestRetryBackoffLimit(0).build()).build();
  }

  String url() {
    return "http://" + server.getHostName() + ":" + server.getPort();
  }

  private void writeKubeconfig(Path file) {
    try {
      Files.createDirectories(file.getParent());
      Files.writeString(file, String.join("\n",
          "apiVersion: v1",
          "kind: Config",
          "clusters:",
          "- name: stand-in",
          "  cluster:",
          "    server: " + url(),
          "contexts:",
          "- name: stand-in",
          "  context:",
          "    cluster: stand-in",
          "    user: stand-in",
          "    namespace: " + Charts.NAMESPACE,
          "current-context: stand-in",
          "users:",
          "- name: stand-in",
          "  user:",
          "    token: stand-in",
          ""));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static io.fabric8.kubernetes.api.model.APIResource resource(String plural, String kind, boolean namespaced) {
    return new APIResourceBuilder().withName(plural).withKind(kind).withNamespaced(namespaced)
        .withVerbs("get", "list", "watch", "create", "update", "patch", "delete").build();
  }

  private static MockResponse json(Object body) {
    return new MockResponse().setResponseCode(200).setHeader("Content-Type", "application/json")
        .setBody(JSON.asJson(body));
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }
}
