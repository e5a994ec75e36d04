package io.jipam.ctl;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** jipamctl output recorded from an earlier build, kept beside these tests as resources. */
final class Golden {
  private Golden() {}

  /** The resource {@code name} of this package, as UTF-8 text. */
  static String read(String name) throws IOException {
    try (InputStream in = Golden.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IOException("no test resource " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
