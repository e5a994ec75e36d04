package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code show} and {@code release} refuse an argument that names no address and no container, as
 * a usage error before anything is opened: an empty one was an empty filter, which matched every
 * allocation, so a script's {@code release "$CID" --yes} with CID unset released every address of
 * every pool.
 */
class JipamctlTargetTest {
  @Test
  void showAndRelease_emptyOrNoContainer_usageErrorNothingOpened() {
    for (List<String> command : List.of(List.of("release", "", "--yes"), List.of("release", "/eth0", "--yes"),
        List.of("release", "", "--dry-run"), List.of("show", ""), List.of("show", "/eth0"))) {
      // a jipamd that does not exist: a usage error is found before it would be asked
      List<String> args = new java.util.ArrayList<>(List.of("--server", "unix:/nonexistent/jipam.sock"));
      args.addAll(command);
      CtlRun r = CtlRun.of(args.toArray(String[]::new));
      assertEquals(2, r.exit(), command + ": " + r);
      assertTrue(r.err().contains("names no address and no container") && r.err().strip().lines().count() == 1,
          command + ": " + r);
    }
  }
}
