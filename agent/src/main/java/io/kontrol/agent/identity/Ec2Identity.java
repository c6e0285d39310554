package io.kontrol.agent.identity;

import io.kontrol.agent.config.Env;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.imds.Ec2MetadataClient;
import software.amazon.awssdk.imds.Ec2MetadataClientException;
import software.amazon.awssdk.imds.Ec2MetadataRetryPolicy;

/**
 * Step 3 of the identity: the EC2 instance metadata service (IMDSv2: a token by {@code PUT
 * /latest/api/token}, then GETs carrying it) for the instance id, availability zone, local host
 * name and public IPv4 ({@code KONTROL_EIP} when the node has none).
 *
 * <p>Never delays boot by more than {@link #DEFAULT_BUDGET}: every request has a one-second
 * connect and read timeout, no retry, and the whole step is abandoned at the budget (a metadata
 * service that accepts connections and never answers). Off EC2 it is skipped without a word
 * above debug level. Honours the SDK's {@code AWS_EC2_METADATA_DISABLED} and {@code
 * AWS_EC2_METADATA_SERVICE_ENDPOINT}.
 */
public final class Ec2Identity {

  private static final Logger LOG = LoggerFactory.getLogger(Ec2Identity.class);

  public static final Duration DEFAULT_BUDGET = Duration.ofSeconds(3);
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(1);
  static final URI DEFAULT_ENDPOINT = URI.create("http://169.254.169.254");

  /** Where Linux tells the machine's vendor; an EC2 instance names Amazon there. */
  static final Path DMI = Path.of("/sys/devices/virtual/dmi/id");

  private final URI endpoint;
  private final Duration budget;

  Ec2Identity(URI endpoint, Duration budget) {
    this.endpoint = endpoint;
    this.budget = budget;
  }

  /**
   * The metadata client this environment asks for, or empty when disabled ({@code
   * AWS_EC2_METADATA_DISABLED=true}) or clearly not on EC2 (no endpoint configured and the
   * machine's DMI vendor is readable and not Amazon).
   */
  public static Optional<Ec2Identity> fromEnv(Map<String, String> env) {
    Env vars = Env.of(env);
    // the AWS SDKs' rule, not kontrol's true/false: only "true" disables, anything else does not
    if (vars.string("AWS_EC2_METADATA_DISABLED").filter("true"::equalsIgnoreCase).isPresent()) {
      LOG.debug("EC2 metadata disabled by AWS_EC2_METADATA_DISABLED");
      return Optional.empty();
    }
    Optional<String> configured = vars.string("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (configured.isPresent()) {
      return Optional.of(new Ec2Identity(URI.create(configured.get()), DEFAULT_BUDGET));
    }
    if (knownNotEc2(DMI)) {
      LOG.debug("not an EC2 instance (DMI vendor): EC2 metadata skipped");
      return Optional.empty();
    }
    return Optional.of(new Ec2Identity(DEFAULT_ENDPOINT, DEFAULT_BUDGET));
  }

  /** True when the DMI vendor files are readable and none of them names Amazon. */
  static boolean knownNotEc2(Path dmi) {
    boolean readable = false;
    for (String f : new String[] {"sys_vendor", "bios_vendor", "bios_version", "board_vendor"}) {
      try {
        String v = Files.readString(dmi.resolve(f), StandardCharsets.UTF_8).toLowerCase(Locale.ROOT);
        readable = true;
        if (v.contains("amazon")) {
          return false;
        }
      } catch (IOException e) {
        // unreadable: say nothing from this file
      }
    }
    return readable;
  }

  /** Fills in what the metadata service knows and {@code known} lacks; on any failure, nothing. */
  public Identity resolve(Identity known) throws InterruptedException {
    ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "kontrol-imds");
      t.setDaemon(true);
      return t;
    });
    Ec2MetadataClient client = Ec2MetadataClient.builder()
        .endpoint(endpoint)
        .retryPolicy(Ec2MetadataRetryPolicy.none())
        .httpClient(ApacheHttpClient.builder().connectionTimeout(REQUEST_TIMEOUT).socketTimeout(REQUEST_TIMEOUT)
            .connectionAcquisitionTimeout(REQUEST_TIMEOUT))
        .build();
    try {
      Future<Map<String, String>> read = worker.submit(() -> read(client));
      Map<String, String> found = read.get(budget.toMillis(), TimeUnit.MILLISECONDS);
      Identity id = known;
      for (Map.Entry<String, String> e : found.entrySet()) {
        id = id.withDefault(e.getKey(), e.getValue());
      }
      return id;
    } catch (TimeoutException e) {
      LOG.info("EC2 metadata at {} did not answer within {} ms: skipped", endpoint, budget.toMillis());
      return known;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Unusable u) {
        // it answered, so this is EC2 (or meant to be): say why its answer is not used, once
        LOG.warn("EC2 metadata at {} answered but cannot be used: {}; no EC2 fields", endpoint, u.getMessage());
      } else {
        LOG.debug("EC2 metadata at {} unavailable: {}", endpoint, e.getCause().toString());
      }
      return known;
    } finally {
      worker.shutdownNow();
      client.close();
    }
  }

  /** The metadata service answered, but not with something usable (an HTTP error, an empty value). */
  static final class Unusable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Unusable(String message) {
      super(message);
    }
  }

  private static String get(Ec2MetadataClient client, String path) {
    String v;
    try {
      v = client.get(path).asString();
    } catch (Ec2MetadataClientException e) {
      throw new Unusable("GET " + path + " answered HTTP " + e.statusCode());
    }
    if (v == null || v.isBlank()) {
      throw new Unusable("GET " + path + " answered an empty value");
    }
    return v.trim();
  }

  private static Map<String, String> read(Ec2MetadataClient client) {
    Map<String, String> out = new LinkedHashMap<>();
    // the first GET also fetches the token: off EC2 it fails here, once
    out.put(Identity.EC2_INSTANCE_ID, get(client, "/latest/meta-data/instance-id"));
    out.put(Identity.EC2_ZONE, get(client, "/latest/meta-data/placement/availability-zone"));
    out.put(Identity.EC2_HOSTNAME, get(client, "/latest/meta-data/local-hostname"));
    try {
      out.put(Identity.EIP, client.get("/latest/meta-data/public-ipv4").asString());
    } catch (Ec2MetadataClientException e) {
      // 404: the instance has no public IPv4
    }
    return out;
  }
}
