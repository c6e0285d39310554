package io.kontrol.agent.rpc;

import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.config.Env;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The peer API's settings, read from the agent's environment (the same variables for the server
 * and for the {@code kontrol peer} client).
 *
 * <table>
 *   <caption>variables</caption>
 *   <tr><td>{@code KONTROL_PORT}</td><td>port of the peer API (default 8000)</td></tr>
 *   <tr><td>{@code KONTROL_TOKEN}, {@code KONTROL_TOKEN_FILE}</td><td>shared token, or a file
 *       holding it (a mounted Secret); the variable wins when both are set</td></tr>
 *   <tr><td>{@code KONTROL_TLS_CERT}, {@code KONTROL_TLS_KEY}, {@code KONTROL_TLS_CA}</td><td>PEM
 *       files for TLS: the pod's certificate chain, its PKCS#8 key, and the CA that signs the
 *       peers (with a CA, the server requires client certificates: mTLS)</td></tr>
 *   <tr><td>{@code KONTROL_TLS_AUTHORITY}</td><td>the name a client checks in the server's
 *       certificate instead of the host dialled (pods share one certificate)</td></tr>
 *   <tr><td>{@code KONTROL_ALLOW_INVOKE}</td><td>{@code true} enables {@code Invoke}</td></tr>
 *   <tr><td>{@code KONTROL_SOCKET}</td><td>the automaton's socket (default {@code /tmp/sock})</td></tr>
 * </table>
 */
public final class PeerConfig {

  public static final int DEFAULT_PORT = 8000;
  public static final String DEFAULT_SOCKET = "/tmp/sock";

  private final int port;
  private final String token;
  private final Path tlsCert;
  private final Path tlsKey;
  private final Path tlsCa;
  private final String tlsAuthority;
  private final boolean allowInvoke;
  private final Path socket;
  private final Duration invokeTimeout;
  private final int invokeMaxOutput;

  private PeerConfig(Builder b) {
    this.port = b.port;
    this.token = b.token;
    this.tlsCert = b.tlsCert;
    this.tlsKey = b.tlsKey;
    this.tlsCa = b.tlsCa;
    this.tlsAuthority = b.tlsAuthority;
    this.allowInvoke = b.allowInvoke;
    this.socket = b.socket;
    this.invokeTimeout = b.invokeTimeout;
    this.invokeMaxOutput = b.invokeMaxOutput;
  }

  /**
   * Reads the settings from an environment.
   *
   * @throws ConfigException naming the variable when a value is malformed, the token file cannot
   *     be read or is empty, or TLS is half configured
   */
  public static PeerConfig fromEnv(Map<String, String> env) {
    Env vars = Env.of(env);
    Builder b = newBuilder();
    b.port(vars.port("KONTROL_PORT", DEFAULT_PORT));
    Optional<String> token = vars.string("KONTROL_TOKEN").or(() -> vars.fileContent("KONTROL_TOKEN_FILE"));
    token.ifPresent(b::token);
    Optional<Path> cert = vars.readableFile("KONTROL_TLS_CERT");
    Optional<Path> key = vars.readableFile("KONTROL_TLS_KEY");
    Optional<Path> ca = vars.readableFile("KONTROL_TLS_CA");
    if (cert.isPresent() != key.isPresent()) {
      String missing = cert.isPresent() ? "KONTROL_TLS_KEY" : "KONTROL_TLS_CERT";
      throw new ConfigException(missing, "not set: KONTROL_TLS_CERT and KONTROL_TLS_KEY go together, set both or neither");
    }
    if (cert.isPresent() || ca.isPresent()) {
      b.tls(cert.orElse(null), key.orElse(null), ca.orElse(null));
    }
    b.tlsAuthority(vars.string("KONTROL_TLS_AUTHORITY").orElse(null));
    b.allowInvoke(vars.bool("KONTROL_ALLOW_INVOKE", false));
    vars.path("KONTROL_SOCKET").ifPresent(b::socket);
    return b.build();
  }

  public static Builder newBuilder() {
    return new Builder();
  }

  public int port() {
    return port;
  }

  /** The shared token, if one is configured: then every call must carry it. */
  public Optional<String> token() {
    return Optional.ofNullable(token);
  }

  /** TLS is on: a certificate (server, mTLS client) or at least a CA to trust (client). */
  public boolean tls() {
    return tlsCert != null || tlsCa != null;
  }

  public Optional<Path> tlsCert() {
    return Optional.ofNullable(tlsCert);
  }

  public Optional<Path> tlsKey() {
    return Optional.ofNullable(tlsKey);
  }

  public Optional<Path> tlsCa() {
    return Optional.ofNullable(tlsCa);
  }

  public Optional<String> tlsAuthority() {
    return Optional.ofNullable(tlsAuthority);
  }

  public boolean allowInvoke() {
    return allowInvoke;
  }

  public Path socket() {
    return socket;
  }

  /** Default and maximum run time of an {@code Invoke}. */
  public Duration invokeTimeout() {
    return invokeTimeout;
  }

  /** Bytes of an {@code Invoke}'s output kept; the rest is read and dropped. */
  public int invokeMaxOutput() {
    return invokeMaxOutput;
  }

  @Override
  public String toString() {
    return "PeerConfig[port=" + port + ", token=" + (token == null ? "none" : "set") + ", tls=" + tls()
        + (tlsCa != null ? " (mutual)" : "") + ", invoke=" + allowInvoke + ", socket=" + socket + "]";
  }

  /** Validating builder; tests use it directly. */
  public static final class Builder {
    private int port = DEFAULT_PORT;
    private String token;
    private Path tlsCert;
    private Path tlsKey;
    private Path tlsCa;
    private String tlsAuthority;
    private boolean allowInvoke;
    private Path socket = Path.of(DEFAULT_SOCKET);
    private Duration invokeTimeout = Duration.ofSeconds(60);
    private int invokeMaxOutput = 1 << 20;

    private Builder() {}

    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port must be 0-65535, not " + port);
      }
      this.port = port;
      return this;
    }

    public Builder token(String token) {
      if (token != null && token.isBlank()) {
        throw new IllegalArgumentException("the token must not be blank");
      }
      this.token = token;
      return this;
    }

    /** Certificate chain and key (both or neither), and optionally the CA of the peers. */
    public Builder tls(Path cert, Path key, Path ca) {
      if ((cert == null) != (key == null)) {
        throw new IllegalArgumentException("KONTROL_TLS_CERT and KONTROL_TLS_KEY go together: set both or neither");
      }
      for (Path p : new Path[] {cert, key, ca}) {
        if (p != null && !Files.isReadable(p)) {
          throw new IllegalArgumentException("TLS file " + p + " cannot be read");
        }
      }
      this.tlsCert = cert;
      this.tlsKey = key;
      this.tlsCa = ca;
      return this;
    }

    public Builder tlsAuthority(String authority) {
      this.tlsAuthority = authority;
      return this;
    }

    public Builder allowInvoke(boolean allow) {
      this.allowInvoke = allow;
      return this;
    }

    public Builder socket(Path socket) {
      this.socket = socket;
      return this;
    }

    public Builder invokeTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("the invoke timeout must be positive");
      }
      this.invokeTimeout = timeout;
      return this;
    }

    public Builder invokeMaxOutput(int bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("the invoke output limit must be positive");
      }
      this.invokeMaxOutput = bytes;
      return this;
    }

    public PeerConfig build() {
      return new PeerConfig(this);
    }
  }
}
