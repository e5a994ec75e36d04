package io.jipam.hostlocal;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A separate JVM that takes two fcntl locks in turn, for {@link NetworkLockCycleIT}: it locks the
 * first file, prints {@code held}, waits for the second, prints {@code got}, and exits releasing
 * both. Usage: {@code LockCycleChild FIRST SECOND}.
 */
public final class LockCycleChild {
  private LockCycleChild() {}

  public static void main(String[] args) throws Exception {
    try (FileChannel first = FileChannel.open(Path.of(args[0]), StandardOpenOption.WRITE);
        FileLock a = first.lock()) {
      System.out.println("held");
      System.out.flush();
      try (FileChannel second = FileChannel.open(Path.of(args[1]), StandardOpenOption.WRITE);
          FileLock b = second.lock()) {
        System.out.println("got");
        System.out.flush();
      }
    }
  }
}
