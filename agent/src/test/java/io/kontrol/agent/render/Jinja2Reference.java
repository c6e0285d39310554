package io.kontrol.agent.render;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The reference: renders with the real Python Jinja2 (python3-jinja2), in a child process. */
public final class Jinja2Reference {

  private static final String SCRIPT =
      "import json, sys, jinja2\n"
          + "src = open(sys.argv[1], encoding='utf-8').read()\n"
          + "variables = json.load(open(sys.argv[2], encoding='utf-8'))\n"
          + "env = jinja2.Environment(keep_trailing_newline=True)\n"
          + "sys.stdout.write(env.from_string(src).render(**variables))\n";

  private Jinja2Reference() {}

  public static String render(String template, Map<String, ?> variables, Path scratch)
      throws IOException, InterruptedException {
    Path src = Files.writeString(Files.createTempFile(scratch, "tpl", ".j2"), template);
    Path vars = Files.createTempFile(scratch, "vars", ".json");
    new ObjectMapper().writeValue(vars.toFile(), variables);
    Process python =
        new ProcessBuilder("python3", "-c", SCRIPT, src.toString(), vars.toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    byte[] out = python.getInputStream().readAllBytes();
    if (!python.waitFor(30, TimeUnit.SECONDS) || python.exitValue() != 0) {
      python.destroyForcibly();
      throw new IOException("python3 jinja2 failed to render the reference");
    }
    return new String(out, StandardCharsets.UTF_8);
  }
}
