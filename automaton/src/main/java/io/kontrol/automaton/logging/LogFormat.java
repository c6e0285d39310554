package io.kontrol.automaton.logging;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code KONTROL_LOG_FORMAT}: {@code text} (one line per event, as ever) or {@code json} (JSON
 * Lines through logback's own {@link JsonEncoder}: {@code timestamp} (epoch millis), {@code level},
 * {@code threadName}, {@code loggerName}, {@code formattedMessage}, {@code mdc} ({@code group}),
 * {@code context.properties} ({@code pod}, {@code state}) and {@code throwable}, one object per
 * line whatever the message holds). Shared by the agent and the automaton.
 */
public enum LogFormat {
  TEXT,
  JSON;

  public static final String VARIABLE = "KONTROL_LOG_FORMAT";

  /**
   * The format {@code env} asks for (text when unset).
   *
   * @throws IllegalArgumentException with a one-line message naming the variable
   */
  public static LogFormat fromEnv(Map<String, String> env) {
    String v = env.get(VARIABLE);
    if (v == null || v.isBlank()) {
      return TEXT;
    }
    switch (v.trim().toLowerCase(Locale.ROOT)) {
      case "text":
        return TEXT;
      case "json":
        return JSON;
      default:
        throw new IllegalArgumentException(VARIABLE + ": must be text or json, not \"" + v.trim() + "\"");
    }
  }

  /** A started encoder of this format; {@code pattern} is the text format's layout. */
  public Encoder<ILoggingEvent> encoder(LoggerContext ctx, String pattern) {
    if (this == TEXT) {
      PatternLayoutEncoder e = new PatternLayoutEncoder();
      e.setContext(ctx);
      e.setPattern(pattern);
      e.start();
      return e;
    }
    JsonEncoder e = new JsonEncoder();
    e.setContext(ctx);
    e.setWithSequenceNumber(false);
    e.setWithNanoseconds(false);
    e.setWithMessage(false); // the template; the formatted message is what an operator reads
    e.setWithArguments(false);
    e.setWithFormattedMessage(true);
    e.start();
    return e;
  }

  /**
   * In JSON, replaces the encoder of every appender of the root logger configured so far (the
   * agent's {@code LogConfigurator}); text leaves them as they are.
   */
  public void install() {
    if (this == TEXT || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return;
    }
    ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    List<Appender<ILoggingEvent>> appenders = new ArrayList<>();
    for (Iterator<Appender<ILoggingEvent>> it = root.iteratorForAppenders(); it.hasNext(); ) {
      appenders.add(it.next());
    }
    for (Appender<ILoggingEvent> a : appenders) {
      if (a instanceof OutputStreamAppender<ILoggingEvent> out) {
        // not stop/start: stopping a console appender closes System.err for good
        out.setEncoder(encoder(ctx, null));
      }
    }
  }

  /**
   * A field every later line of this process carries ({@code pod}, the automaton's {@code
   * state}): a property of logback's context. No-op without logback.
   */
  public static void field(String key, String value) {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx) {
      ctx.putProperty(key, value);
    }
  }
}
