package io.kontrol.automaton.socket;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/** Socket file helpers: permission modes and file type. */
public final class SocketFiles {

  private static final PosixFilePermission[] BITS = {
    PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
    PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
    PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ,
  };

  private SocketFiles() {}

  /** Parses an octal mode such as {@code 0660}, {@code 660} or {@code 0600}. */
  public static Set<PosixFilePermission> parseMode(String octal) {
    if (octal == null || !octal.matches("0?[0-7]{3}")) {
      throw new IllegalArgumentException("a socket mode is 3 or 4 octal digits such as 0660, got '" + octal + "'");
    }
    int mode = Integer.parseInt(octal, 8);
    Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
    for (int i = 0; i < BITS.length; i++) {
      if ((mode & (1 << i)) != 0) {
        perms.add(BITS[i]);
      }
    }
    return perms;
  }

  public static String formatMode(Set<PosixFilePermission> perms) {
    int mode = 0;
    for (int i = 0; i < BITS.length; i++) {
      if (perms.contains(BITS[i])) {
        mode |= 1 << i;
      }
    }
    return String.format("%04o", mode);
  }

  /** True when {@code path} is a unix domain socket (not following links). */
  public static boolean isSocket(Path path) throws IOException {
    Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    return mode instanceof Integer && (((Integer) mode) & 0170000) == 0140000;
  }
}
