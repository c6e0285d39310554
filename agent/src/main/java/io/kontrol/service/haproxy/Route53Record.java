package io.kontrol.service.haproxy;

import io.kontrol.service.CallbackException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.route53.Route53Client;
import software.amazon.awssdk.services.route53.Route53ClientBuilder;
import software.amazon.awssdk.services.route53.model.ChangeAction;
import software.amazon.awssdk.services.route53.model.HostedZone;
import software.amazon.awssdk.services.route53.model.ListHostedZonesByNameResponse;
import software.amazon.awssdk.services.route53.model.RRType;
import software.amazon.awssdk.services.route53.model.ResourceRecord;

/**
 * The proxies' DNS name: one Route53 A record (TTL 60) holding the proxies' external IPs,
 * UPSERTed through the AWS SDK for Java v2 (the original ran the aws cli).
 *
 * <p>Route53 is global: the client is pinned to {@code aws-global}. Credentials come from the
 * SDK's default chain (environment, web identity / IRSA, profile, container, instance profile);
 * the endpoint from {@code AWS_ENDPOINT_URL_ROUTE_53}, else {@code AWS_ENDPOINT_URL} (a
 * Route53-compatible endpoint), else Route53's own. Throttling ({@code PriorRequestNotComplete},
 * {@code Throttling}) is retried by the SDK with back-off; whatever still fails is a {@link
 * CallbackException} naming the reason, which the callback's caller retries later.
 */
public final class Route53Record implements HaproxyCallback.Dns, AutoCloseable {

  /** The record to keep, on the proxy pods. */
  public static final String NAME_ANNOTATION = "haproxy.unity3d.com/route53";

  /** Its hosted zone id; when absent the zone is looked up by the name's parent domain. */
  public static final String ZONE_ANNOTATION = "haproxy.unity3d.com/route53-zone";

  static final long TTL = 60;

  private final Route53Client client;
  private final Consumer<String> log;

  Route53Record(Route53Client client, Consumer<String> log) {
    this.client = client;
    this.log = log;
  }

  /** A client as described above, with the endpoint taken from {@code env}. */
  public static Route53Record fromEnv(Map<String, String> env, Consumer<String> log) {
    Route53ClientBuilder builder =
        Route53Client.builder()
            .region(Region.AWS_GLOBAL)
            .credentialsProvider(DefaultCredentialsProvider.builder().build())
            .httpClient(ApacheHttpClient.builder().connectionTimeout(Duration.ofSeconds(5)).socketTimeout(Duration.ofSeconds(20)).build())
            .overrideConfiguration(
                o -> o.retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(5).build())
                    .apiCallTimeout(Duration.ofSeconds(40)));
    endpoint(env).ifPresent(builder::endpointOverride);
    return new Route53Record(builder.build(), log);
  }

  static Optional<URI> endpoint(Map<String, String> env) {
    for (String name : List.of("AWS_ENDPOINT_URL_ROUTE_53", "AWS_ENDPOINT_URL")) {
      String value = env.get(name);
      if (value != null && !value.isBlank()) {
        return Optional.of(URI.create(value.strip()));
      }
    }
    return Optional.empty();
  }

  @Override
  public void upsert(String name, Optional<String> zone, List<String> ips) throws CallbackException {
    String fqdn = name.endsWith(".") ? name : name + ".";
    try {
      String zoneId = zone.isPresent() ? strip(zone.get()) : lookup(fqdn);
      String changeId =
          client
              .changeResourceRecordSets(
                  r -> r.hostedZoneId(zoneId)
                      .changeBatch(
                          b -> b.comment("kontrol: the HAProxy pods' external IPs")
                              .changes(
                                  c -> c.action(ChangeAction.UPSERT)
                                      .resourceRecordSet(
                                          s -> s.name(fqdn)
                                              .type(RRType.A)
                                              .ttl(TTL)
                                              .resourceRecords(ips.stream().map(ip -> ResourceRecord.builder().value(ip).build()).toList())))))
              .changeInfo()
              .id();
      log.accept("route53: " + fqdn + " A " + ips + " upserted in zone " + zoneId + " (change " + changeId + ")");
    } catch (AwsServiceException e) {
      String code = e.awsErrorDetails() == null ? "" : e.awsErrorDetails().errorCode();
      throw CallbackException.failed(
          "route53: UPSERT " + fqdn + " A " + ips + " failed: " + code + " (HTTP " + e.statusCode() + "): "
              + (e.awsErrorDetails() == null ? e.getMessage() : e.awsErrorDetails().errorMessage()));
    } catch (SdkException e) {
      throw CallbackException.failed("route53: UPSERT " + fqdn + " A " + ips + " failed: " + e.getMessage());
    }
  }

  /** The public hosted zone of the name's parent domain. */
  private String lookup(String fqdn) throws CallbackException {
    int dot = fqdn.indexOf('.');
    String parent = fqdn.substring(dot + 1);
    if (dot < 0 || parent.isEmpty() || parent.equals(".")) {
      throw CallbackException.badInput("route53: " + NAME_ANNOTATION + " " + fqdn + " has no parent domain to find its zone in; set " + ZONE_ANNOTATION);
    }
    ListHostedZonesByNameResponse zones = client.listHostedZonesByName(r -> r.dnsName(parent).maxItems("10"));
    for (HostedZone z : zones.hostedZones()) {
      if (z.name().equalsIgnoreCase(parent) && (z.config() == null || !Boolean.TRUE.equals(z.config().privateZone()))) {
        return strip(z.id());
      }
    }
    throw CallbackException.failed("route53: no public hosted zone named " + parent + " (for " + fqdn + "); set " + ZONE_ANNOTATION + " to its id");
  }

  /** The SDK leaves ListHostedZonesByName's "/hostedzone/" prefix on the id. */
  static String strip(String zoneId) {
    return zoneId.startsWith("/hostedzone/") ? zoneId.substring("/hostedzone/".length()) : zoneId;
  }

  @Override
  public void close() {
    client.close();
  }
}
