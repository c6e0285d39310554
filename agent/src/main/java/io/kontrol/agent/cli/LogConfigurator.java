package io.kontrol.agent.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import org.slf4j.Logger;

/**
 * The logging of every {@code kontrol} process, set up in code (logback finds it through {@code
 * META-INF/services}): one line per event on stderr (stdout belongs to commands that print
 * results), kontrol's own events from INFO, everyone else's from WARN. In code rather than a
 * {@code logback.xml} because parsing XML is most of logback's start-up (about 0.2 s of CPU in
 * every JVM: the agent, {@code kontrol boot}, each {@code kontrol render} of a lifecycle script).
 *
 * <p>A configuration file still wins: with {@code -Dlogback.configurationFile=FILE}, or a {@code
 * logback-test.xml} / {@code logback.xml} on the class path (the tests'), this steps aside and
 * logback reads the file as usual.
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_NORMAL_PRIORITY)
public final class LogConfigurator extends ContextAwareBase implements Configurator {

  /** The layout of a text line (also what {@code KONTROL_LOG_FORMAT=text} keeps). */
  static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSX,UTC} %-5level %msg%n";

  @Override
  public ExecutionStatus configure(LoggerContext ctx) {
    if (fileGiven()) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    apply(ctx);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  /** Whether logback has a configuration file to read (which then wins). */
  static boolean fileGiven() {
    return System.getProperty("logback.configurationFile") != null || fileOnClassPath("logback-test.xml")
        || fileOnClassPath("logback.xml");
  }

  /** kontrol's logging, in {@code ctx}. */
  static void apply(LoggerContext ctx) {
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(ctx);
    encoder.setPattern(PATTERN);
    encoder.start();
    ConsoleAppender<ILoggingEvent> err = new ConsoleAppender<>();
    err.setContext(ctx);
    err.setName("ERR");
    err.setTarget("System.err");
    err.setEncoder(encoder);
    err.start();
    ctx.getLogger("io.kontrol").setLevel(Level.INFO);
    ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.WARN);
    root.addAppender(err);
  }

  private static boolean fileOnClassPath(String name) {
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    return (loader != null ? loader : LogConfigurator.class.getClassLoader()).getResource(name) != null;
  }
}
