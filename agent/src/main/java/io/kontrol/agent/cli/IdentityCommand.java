package io.kontrol.agent.cli;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kontrol.agent.identity.Identity;
import io.kontrol.agent.identity.IdentityException;
import io.kontrol.agent.identity.IdentityResolver;
import io.kontrol.agent.identity.KubernetesIdentity;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol identity}: resolves who this pod is (variables, then the Kubernetes API, then
 * EC2 metadata) and prints {@code export KONTROL_...='...'} lines for {@code eval}, or JSON.
 * Exit 1 when the identity cannot be resolved.
 */
@Command(name = "identity", mixinStandardHelpOptions = true,
    description = "Print this pod's identity (KONTROL_ID, KONTROL_IP, labels, ...) as export lines or JSON.")
public final class IdentityCommand implements Callable<Integer> {

  @ParentCommand KontrolCommand parent;
  @Spec CommandSpec spec;

  @Option(names = "--json", description = "Print one JSON object instead of export lines.")
  boolean json;

  @Override
  public Integer call() throws InterruptedException, IdentityException {
    Map<String, String> env = parent.env();
    Identity id;
    try (KubernetesClient client = IdentityResolver.needsKubernetes(env) ? KubernetesIdentity.inClusterClient() : null) {
      id = IdentityResolver.forEnv(env, client).resolve();
    }
    spec.commandLine().getOut().print(json ? id.toJson() + "\n" : id.toExports());
    spec.commandLine().getOut().flush();
    return 0;
  }
}
