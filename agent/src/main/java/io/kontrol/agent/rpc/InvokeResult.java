package io.kontrol.agent.rpc;

/**
 * What a peer's {@code Invoke} ran to.
 *
 * @param exitCode the command's exit code, -1 when it was killed on timeout
 * @param output stdout and stderr, merged, cut at the peer's limit
 * @param truncated the output was cut
 * @param timedOut the command ran out of time and its process group was killed
 */
public record InvokeResult(int exitCode, String output, boolean truncated, boolean timedOut) {}
