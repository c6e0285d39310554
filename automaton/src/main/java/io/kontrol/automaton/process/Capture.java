package io.kontrol.automaton.process;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Keeps the first (or the last) {@code max} bytes of a command's output and counts the rest.
 * Thread-safe: filled by the draining thread, read by the caller.
 */
public final class Capture {
  private final int max;
  private final boolean tail;
  private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
  private boolean truncated;

  private Capture(int max, boolean tail) {
    if (max < 0) {
      throw new IllegalArgumentException("max must be >= 0, not " + max);
    }
    this.max = max;
    this.tail = tail;
  }

  /** Keeps the first {@code max} bytes. */
  public static Capture head(int max) {
    return new Capture(max, false);
  }

  /** Keeps the last {@code max} bytes. */
  public static Capture tail(int max) {
    return new Capture(max, true);
  }

  /** Keeps nothing (the output is still drained). */
  public static Capture none() {
    return new Capture(0, false);
  }

  synchronized void add(byte[] chunk, int n) {
    if (kept.size() + n <= max) {
      kept.write(chunk, 0, n);
      return;
    }
    truncated = true;
    if (!tail) {
      kept.write(chunk, 0, max - kept.size());
      return;
    }
    byte[] all = kept.toByteArray();
    kept.reset();
    int fromNew = Math.min(n, max);
    int fromOld = max - fromNew;
    kept.write(all, all.length - fromOld, fromOld);
    kept.write(chunk, n - fromNew, fromNew);
  }

  /**
   * An output stream into this capture, for output produced in this JVM rather than read from a
   * process (a command run in-process); writes after {@code close} are kept too.
   */
  public OutputStream stream() {
    return new OutputStream() {
      @Override
      public void write(int b) {
        add(new byte[] {(byte) b}, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        if (off == 0) {
          add(b, len);
        } else {
          add(java.util.Arrays.copyOfRange(b, off, off + len), len);
        }
      }
    };
  }

  /** What was kept, as UTF-8 text. */
  public synchronized String text() {
    return kept.toString(StandardCharsets.UTF_8);
  }

  /** True when output was dropped. */
  public synchronized boolean truncated() {
    return truncated;
  }
}
