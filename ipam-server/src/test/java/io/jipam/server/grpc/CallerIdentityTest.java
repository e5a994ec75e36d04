package io.jipam.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.junit.jupiter.api.Test;

/**
 * The node a client certificate's subject names: its one CN, read by the RFC 2253 grammar. A
 * subject of several CNs names no node; before, splitting its text on unescaped commas read
 * {@code CN=node-a, CN=node-b, OU=x\} (a value ending in a backslash) as node-a.
 */
class CallerIdentityTest {
  @Test
  void commonName_subjects_theOneCnOrNone() {
    List<String[]> table = Arrays.asList(
        new String[] {"CN=node-a", "node-a"},
        new String[] {"CN=node-a, O=jipam nodes", "node-a"},
        new String[] {"O=jipam, CN=node-a", "node-a"},
        new String[] {"cn=node-a", "node-a"},
        new String[] {"CN=node-a+OU=x", "node-a"},
        new String[] {"CN=a\\,b", "a,b"},
        new String[] {"O=jipam", null},
        new String[] {"CN=node-b, CN=node-a", null},
        new String[] {"CN=node-a, CN=node-b, OU=x\\\\", null},
        new String[] {"CN=node-a+CN=node-b", null},
        new String[] {"CN=#04066e6f64652d61", null}); // a DER value, not text
    for (String[] row : table) {
      X500Principal subject = new X500Principal(row[0]);
      assertEquals(row[1], CallerIdentity.commonName(subject), row[0] + " = " + subject.getName(X500Principal.RFC2253));
    }
  }
}
