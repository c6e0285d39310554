package io.kontrol.agent.cli;

import io.kontrol.agent.boot.Boot;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code kontrol boot}: the image entrypoint's preparation (identity, annotations file, metrics
 * configuration, supervisord's configuration). With {@code --env-file FILE} it writes the resolved
 * environment there and exits 0, for the entrypoint script to {@code exec} supervisord with it;
 * without, it runs supervisord as its child until SIGTERM and exits with supervisord's code. Exits
 * 1 when the identity cannot be resolved.
 */
@Command(name = "boot", mixinStandardHelpOptions = true,
    description = "Image entrypoint: resolve identity, write the annotations, metrics and supervisord configs; "
        + "then write the environment to --env-file and exit, or run supervisord until SIGTERM.")
public final class BootCommand implements Callable<Integer> {

  @ParentCommand KontrolCommand parent;

  @Option(names = "--env-file", paramLabel = "FILE",
      description = "Write the resolved environment to FILE (sh 'export' lines) and exit, instead of running supervisord.")
  Path envFile;

  @Override
  public Integer call() throws InterruptedException {
    Boot boot = new Boot(parent.env());
    return envFile != null ? boot.prepare(envFile) : boot.run();
  }
}
