package io.jipam.hostlocal;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import io.jipam.core.store.Printable;
import io.jipam.core.store.capability.Probe;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The file stores' {@link Probe}: the data dir, or when it does not exist yet its nearest existing
 * parent (an ADD creates the rest), is a directory this process may write in. A data dir that is a
 * file, on a read-only mount or immutable failed every ADD while STATUS and jipamd's health check
 * said all was well. A few system calls (stat, access); changes nothing. Thread-safe.
 */
final class DataDirProbe implements Probe {
  private final Path dataDir;

  DataDirProbe(Path dataDir) {
    this.dataDir = dataDir.toAbsolutePath();
  }

  @Override
  public void ping() {
    Path at = dataDir;
    while (at != null && !Files.exists(at, LinkOption.NOFOLLOW_LINKS) && !Files.isSymbolicLink(at)) {
      at = at.getParent();
    }
    if (at == null) {
      throw unusable("no part of it exists");
    }
    if (!Files.isDirectory(at)) {
      throw unusable(Printable.quote(at.toString()) + " is not a directory");
    }
    if (!Files.isWritable(at)) {
      throw unusable(Printable.quote(at.toString()) + " cannot be written (read-only, immutable or not this user's)");
    }
  }

  private IpamException unusable(String why) {
    return new IpamException(ErrorCode.TRY_AGAIN_LATER, "data dir " + Printable.quote(dataDir.toString())
        + " cannot be used: " + why);
  }
}
