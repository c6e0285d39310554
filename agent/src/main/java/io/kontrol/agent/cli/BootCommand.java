package io.kontrol.agent.cli;

import io.kontrol.agent.boot.Boot;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code kontrol boot}: the image entrypoint (identity, metrics configuration, supervisord).
 * Exits with supervisord's code, 1 when the identity cannot be resolved.
 */
@Command(name = "boot", mixinStandardHelpOptions = true,
    description = "Image entrypoint: resolve identity, render the metrics config, run supervisord until SIGTERM.")
public final class BootCommand implements Callable<Integer> {

  @ParentCommand KontrolCommand parent;

  @Override
  public Integer call() throws InterruptedException {
    return new Boot(parent.env()).run();
  }
}
