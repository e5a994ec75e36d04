package io.jipam.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jipam.core.cni.JsonReader;
import io.jipam.core.cni.NetworkConfig;
import io.jipam.core.store.IpamStore;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.Pool;
import io.jipam.hostlocal.HostLocalStores;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A network with sub-pools only: an ADD in a sub-pool makes the network's own directory for the
 * network's lock (its pools share one address space), and jipamctl on the data dir does not take
 * that directory for a network the config lacks; a directory with addresses still gets the warning.
 */
@Timeout(60)
class JipamctlSubPoolOnlyNetworkTest {
  static final String CONF = ("{'cniVersion':'1.1.0','name':'only','ipam':{'type':'jipam',"
      + "'subPools':[{'name':'db','ranges':[[{'subnet':'198.18.1.0/28'}]]}]}}").replace('\'', '"');

  @TempDir Path dir;

  @Test
  void list_subPoolOnlyNetworkWithItsLockDirectory_warnsOnlyOfTheStrayNetwork() throws Exception {
    Path conf = Files.writeString(dir.resolve("only.conf"), CONF);
    Path data = Files.createDirectories(dir.resolve("data"));
    Pool db = NetworkConfig.from(JsonReader.parse(CONF.getBytes(StandardCharsets.UTF_8))).ipam().subPools().get(0).pool();
    try (IpamStore store = HostLocalStores.open(data)) {
      JipamctlShowOriginTest.add(store, db, "c1", new PodRef("ns", "p-1"));
    }
    assertTrue(Files.isRegularFile(data.resolve("only/lock")), "the network's lock");
    Files.createDirectories(data.resolve("stray"));
    Files.writeString(data.resolve("stray/198.18.9.2"), "c9\neth0");

    CtlRun list = CtlRun.of("list", "--data-dir", data.toString(), "--conf", conf.toString());
    assertEquals(0, list.exit(), list.toString());
    assertTrue(list.out().contains("198.18.1.2"), list.toString());
    assertFalse(list.err().contains("\"only\""), list.toString());
    assertTrue(list.err().contains("network \"stray\" in "), list.toString());
  }
}
