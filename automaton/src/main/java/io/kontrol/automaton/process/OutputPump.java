package io.kontrol.automaton.process;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Reads a script's merged stdout/stderr and hands it over line by line. Lines longer than {@link
 * #MAX_LINE} bytes are cut into pieces so a script printing without newlines cannot exhaust memory.
 * Ends at EOF, which comes when the script and every child still holding its output have exited.
 */
public final class OutputPump implements Runnable {

  public static final int MAX_LINE = 8192;

  private final InputStream in;
  private final Consumer<String> sink;

  public OutputPump(InputStream in, Consumer<String> sink) {
    this.in = in;
    this.sink = sink;
  }

  @Override
  public void run() {
    byte[] chunk = new byte[4096];
    byte[] line = new byte[MAX_LINE];
    int len = 0;
    try (in) {
      int n;
      while ((n = in.read(chunk)) > 0) {
        for (int i = 0; i < n; i++) {
          byte b = chunk[i];
          if (b == '\n') {
            emit(line, len);
            len = 0;
          } else {
            if (len == MAX_LINE) {
              emit(line, len);
              len = 0;
            }
            line[len++] = b;
          }
        }
      }
    } catch (IOException e) {
      // the stream closes under us when the machine shuts down: nothing more to log
    } finally {
      if (len > 0) {
        emit(line, len);
      }
    }
  }

  private void emit(byte[] line, int len) {
    int end = len;
    if (end > 0 && line[end - 1] == '\r') {
      end--;
    }
    try {
      sink.accept(new String(line, 0, end, StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      // a failing sink (logging) must not stop the draining, or the script would block on a full pipe
    }
  }
}
