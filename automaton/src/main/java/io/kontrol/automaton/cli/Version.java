package io.kontrol.automaton.cli;

import picocli.CommandLine;

/** The version from the jar manifest ({@code dev} when run from classes). */
final class Version implements CommandLine.IVersionProvider {

  static String string() {
    String v = Version.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  @Override
  public String[] getVersion() {
    return new String[] {"automaton " + string()};
  }
}
