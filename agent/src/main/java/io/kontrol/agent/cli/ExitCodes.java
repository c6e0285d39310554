package io.kontrol.agent.cli;

import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.groupconfig.GroupConfigException;
import io.kontrol.agent.groupconfig.GroupConfigStore;
import io.kontrol.agent.identity.IdentityException;
import io.kontrol.agent.rpc.PeerException;
import io.kontrol.service.CallbackException;
import java.io.PrintWriter;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine;

/**
 * kontrol's one exception-to-exit-code mapping. Expected failures print ONE line on stderr, no
 * stack trace: a bad setting exits 2; a peer call its outcome's code (1 refused or KO, 3
 * unreachable or timed out); a service callback 1 (a member did not apply the change) or 2 (bad
 * input); an unresolvable identity 1; a refused group configuration 1, etcd not answering 3. Anything else is a bug and propagates (exit 1 with its
 * trace).
 */
final class ExitCodes implements IExecutionExceptionHandler {

  @Override
  public int handleExecutionException(Exception ex, CommandLine line, ParseResult parsed) throws Exception {
    PrintWriter err = line.getErr();
    int code;
    if (ex instanceof ConfigException) {
      err.println("kontrol: " + ex.getMessage());
      code = 2;
    } else if (ex instanceof PeerException e) {
      err.println("kontrol: " + e.getMessage());
      code = e.outcome().exitCode();
    } else if (ex instanceof CallbackException e) {
      err.println(line.getCommandSpec().qualifiedName() + ": " + e.getMessage());
      code = e.badInput() ? 2 : 1;
    } else if (ex instanceof GroupConfigException) {
      err.println(line.getCommandSpec().qualifiedName() + ": refused: " + ex.getMessage());
      code = 1;
    } else if (ex instanceof GroupConfigStore.Unreachable) {
      err.println(line.getCommandSpec().qualifiedName() + ": " + ex.getMessage());
      code = 3;
    } else if (ex instanceof IdentityException) {
      err.println("kontrol: identity: " + ex.getMessage());
      code = 1;
    } else {
      throw ex;
    }
    err.flush();
    return code;
  }
}
