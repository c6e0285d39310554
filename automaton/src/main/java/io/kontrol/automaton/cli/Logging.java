package io.kontrol.automaton.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.rolling.FixedWindowRollingPolicy;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy;
import ch.qos.logback.core.util.FileSize;
import io.kontrol.automaton.logging.LogFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logging of the running automaton, configured in code (no file to ship or to get wrong): one line
 * per event to stdout (supervisord collects it) and to a size-rotated file ({@code FILE},
 * {@code FILE.1} ... {@code FILE.5}, 10 MB each).
 */
final class Logging {

  static final String PATTERN = "%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level %logger - %msg%n";

  private Logging() {}

  /**
   * @param file the log file, or {@code -} for stdout only
   * @param debug DEBUG level instead of INFO
   * @return null when all is well, otherwise why the file could not be used (stdout still works)
   */
  static String configure(String file, boolean debug) {
    return configure(file, debug, LogFormat.TEXT);
  }

  /** As above, in {@code format} ({@code KONTROL_LOG_FORMAT}). */
  static String configure(String file, boolean debug, LogFormat format) {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ctx.reset();
    ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(debug ? Level.DEBUG : Level.INFO);

    ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
    console.setContext(ctx);
    console.setName("stdout");
    console.setEncoder(format.encoder(ctx, PATTERN));
    console.start();
    root.addAppender(console);

    if (file == null || file.equals("-")) {
      return null;
    }
    RollingFileAppender<ILoggingEvent> rolling = new RollingFileAppender<>();
    rolling.setContext(ctx);
    rolling.setName("file");
    rolling.setFile(file);
    rolling.setEncoder(format.encoder(ctx, PATTERN));

    FixedWindowRollingPolicy policy = new FixedWindowRollingPolicy();
    policy.setContext(ctx);
    policy.setParent(rolling);
    policy.setFileNamePattern(file + ".%i");
    policy.setMinIndex(1);
    policy.setMaxIndex(5);
    policy.start();

    SizeBasedTriggeringPolicy<ILoggingEvent> trigger = new SizeBasedTriggeringPolicy<>();
    trigger.setContext(ctx);
    trigger.setMaxFileSize(FileSize.valueOf("10MB"));
    trigger.start();

    rolling.setRollingPolicy(policy);
    rolling.setTriggeringPolicy(trigger);
    rolling.start();
    if (!rolling.isStarted()) {
      return "cannot write the log file " + file + ": logging to stdout only";
    }
    root.addAppender(rolling);
    return null;
  }

  /** Flushes and stops the appenders (the JVM is about to exit). */
  static void stop() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext) {
      ((LoggerContext) LoggerFactory.getILoggerFactory()).stop();
    }
  }
}
