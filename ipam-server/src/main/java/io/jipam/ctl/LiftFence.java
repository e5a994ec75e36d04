package io.jipam.ctl;

import static io.jipam.ctl.Formats.*;

import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "lift-fence", mixinStandardHelpOptions = true,
    description = "Remove a node's fence (left by reclaim-node), so that the node allocates again (etcd store).")
final class LiftFence extends Jipamctl.Base {
  @Parameters(paramLabel = "NODE") String node;

  @Override
  void checkUsage() {
    nodeName(node, "NODE");
  }

  @Override
  int run(Backend store, boolean json) {
    boolean lifted = store.liftFence(node);
    if (json) {
      out().println(new JsonObject().put("node", node).put("lifted", lifted).encode());
    } else {
      out().println(lifted ? "fence of node " + node + " lifted" : "node " + node + " had no fence");
    }
    return 0;
  }
}
