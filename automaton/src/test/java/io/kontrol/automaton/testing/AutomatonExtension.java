package io.kontrol.automaton.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real automaton ({@link AutomatonProcess}) for a JUnit 5 test, in a temp directory of its own
 * ({@code DIR/manifest.yml}, {@code DIR/sock}, {@code DIR/automaton.log}), started and answering
 * {@code STATE} before the tests run, stopped (SIGTERM, then by force) and removed after them:
 *
 * <pre>
 * &#64;RegisterExtension static final AutomatonExtension AUTOMATON = AutomatonExtension.manifest(YAML).build();
 * </pre>
 *
 * A static field shares one automaton among the class's tests, its {@code @Nested} classes'
 * included; an instance field gives each test its own.
 */
public final class AutomatonExtension
    implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {

  private final String manifest;
  private final List<String> args;
  private boolean perClass;
  /** Class containers open: a static field's extension also hears each {@code @Nested} class. */
  private int classes;
  private Path dir;
  private AutomatonProcess process;

  private AutomatonExtension(String manifest, List<String> args) {
    this.manifest = manifest;
    this.args = args;
  }

  /** An automaton running {@code yaml}. */
  public static Builder manifest(String yaml) {
    return new Builder(Objects.requireNonNull(yaml, "yaml"));
  }

  /** Builder: {@code AutomatonExtension.manifest(yaml).args("--read-timeout", "2").build()}. */
  public static final class Builder {
    private final String manifest;
    private List<String> args = List.of();

    private Builder(String manifest) {
      this.manifest = manifest;
    }

    /** More command-line arguments, after {@code MANIFEST -s SOCK -l LOG -d}. */
    public Builder args(String... more) {
      this.args = List.of(more);
      return this;
    }

    public AutomatonExtension build() {
      return new AutomatonExtension(manifest, args);
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    perClass = true; // only a static field's extension hears beforeAll
    if (classes++ == 0) {
      start();
    }
  }

  @Override
  public void beforeEach(ExtensionContext context) throws IOException {
    if (process == null) {
      start();
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    if (!perClass) {
      stop();
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (--classes == 0) {
      stop();
    }
  }

  private void start() throws IOException {
    dir = Files.createTempDirectory("automaton-");
    process = AutomatonProcess.start(dir, manifest, args.toArray(String[]::new));
  }

  private void stop() {
    if (process != null) {
      process.close();
      process = null;
    }
    if (dir != null) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        // a temp dir
      }
      dir = null;
    }
  }

  /** The running automaton. */
  public AutomatonProcess process() {
    if (process == null) {
      throw new IllegalStateException("the automaton runs only while a test of its class runs");
    }
    return process;
  }

  /** Its socket. */
  public Path socket() {
    return process().socket();
  }

  /** Its directory (the manifest, the socket, its log; the state scripts' working directory). */
  public Path dir() {
    return process().dir();
  }

  /** Its state now. */
  public String state() throws Exception {
    return process().state();
  }
}
