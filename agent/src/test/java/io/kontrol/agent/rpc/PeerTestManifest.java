package io.kontrol.agent.rpc;

/** The automaton manifest the peer API's tests drive. */
public final class PeerTestManifest {
  /** States every peer test uses: {@code ready} runs {@code true}, {@code slow} sleeps, {@code echo} saves $INPUT to DIR/input. */
  public static final String YAML = String.join("\n",
      "initial: setup",
      "terminal: shutdown",
      "states:",
      "- tag: setup",
      "  shell: 'true'",
      "  next: ['*']",
      "- tag: ready",
      "  shell: 'true'",
      "  next: ['*']",
      "- tag: slow",
      "  shell: sleep 30",
      "  next: ['*']",
      "- tag: echo",
      "  shell: printf '%s' \"$INPUT\" > \"$(dirname \"$SOCKET\")/input\"",
      "  next: ['*']",
      "- tag: shutdown",
      "  shell: 'true'",
      "");

  private PeerTestManifest() {}
}
