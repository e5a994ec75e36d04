package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jipam.testkit.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The documented migration of a node between the reference host-local and jipam (installed from
 * the bundle), both ways, by changing only the conflist's ipam type: running pods keep their
 * addresses (CHECK passes, DEL releases them), new pods never get a held address, and the
 * round-robin cursor carries over.
 */
class MigrationIT {
  static final Path HOST_LOCAL = Path.of("/usr/lib/cni/host-local");
  @TempDir Path tmp;
  Path jipam;
  Path emptyPath;
  Path data;

  @BeforeEach
  void plugins() throws Exception {
    Bundle.requireBuilt();
    String why = "apt-get install containernetworking-plugins (the reference host-local)";
    if (Exec.underCi()) {
      assertTrue(Files.isExecutable(HOST_LOCAL), why);
    }
    assumeTrue(Files.isExecutable(HOST_LOCAL), why);
    jipam = Bundle.unpack(Files.createDirectory(tmp.resolve("bin"))).resolve("jipam");
    emptyPath = Files.createDirectory(tmp.resolve("empty-path"));
    data = tmp.resolve("data");
  }

  private String conf(String type) {
    return ("{'cniVersion':'1.0.0','name':'migrate','ipam':{'type':'" + type + "','dataDir':'" + data
        + "','ranges':[[{'subnet':'198.18.70.0/24'}]]}}").replace('\'', '"');
  }

  private Exec.Result call(String type, String command, String id, String stdin) {
    Path plugin = type.equals("jipam") ? jipam : HOST_LOCAL;
    return Bundle.call(plugin, Bundle.env(command, id, emptyPath), stdin == null ? conf(type) : stdin);
  }

  private String add(String type, String id) {
    Exec.Result add = call(type, "ADD", id, null);
    assertEquals(0, add.exit(), type + " ADD " + id + ": " + add);
    return Bundle.json(add.stdout()).path("ips").path(0).path("address").asText();
  }

  private void del(String type, String id) {
    Exec.Result del = call(type, "DEL", id, null);
    assertEquals(0, del.exit(), type + " DEL " + id + ": " + del);
  }

  private void check(String type, String id, String address) {
    String conf = conf(type);
    String withPrev = conf.substring(0, conf.length() - 1) + ",\"prevResult\":{\"cniVersion\":\"1.0.0\","
        + "\"ips\":[{\"address\":\"" + address + "\"}]}}";
    Exec.Result check = call(type, "CHECK", id, withPrev);
    assertEquals(0, check.exit(), type + " CHECK " + id + " " + address + ": " + check);
  }

  @Test
  void hostLocalToJipamAndBack_typeChangedOnly_podsKeepAddressesNoneTwice() {
    List<String> fromHostLocal = new ArrayList<>();
    for (String id : List.of("c1", "c2", "c3")) {
      fromHostLocal.add(add("host-local", id));
    }
    assertEquals(List.of("198.18.70.2/24", "198.18.70.3/24", "198.18.70.4/24"), fromHostLocal);

    // the node now runs jipam: the pods host-local served are jipam's
    for (int i = 0; i < 3; i++) {
      check("jipam", "c" + (i + 1), fromHostLocal.get(i));
    }
    assertEquals("198.18.70.5/24", add("jipam", "c4"), "round-robin goes on after host-local's last address");
    del("jipam", "c1");
    assertEquals(List.of("198.18.70.3", "198.18.70.4", "198.18.70.5"), Bundle.addressFiles(data, "migrate"));

    // and back to host-local: jipam's allocations are host-local's
    check("host-local", "c4", "198.18.70.5/24");
    String c5 = add("host-local", "c5");
    assertEquals("198.18.70.6/24", c5, "host-local goes on after jipam's last address");
    assertFalse(fromHostLocal.subList(1, 3).contains(c5));
    for (String id : List.of("c2", "c3", "c4", "c5")) {
      del("host-local", id);
    }
    assertEquals(List.of(), Bundle.addressFiles(data, "migrate"), "every address released");
  }
}
