package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.jipam.etcd.EtcdStoreConfig;
import io.jipam.server.JipamdConfigProbe;
import io.jipam.testkit.Exec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * deploy/: every file parses, every file a kustomization names exists, and, where kubectl with
 * kustomize is installed, every overlay builds and what it builds holds together: volumes that
 * mounts name, ConfigMaps, Secrets, ServiceAccounts and roles that pods and bindings name, Service
 * selectors and ports, the CNI host paths, conflists the plugin can read, and jipamd configs whose
 * files are mounted, and jipamd configs jipamd takes ({@code --check-config}). No cluster is
 * involved: whether the API server accepts the objects is not checked here.
 */
class DeployManifestsTest {
  static final Path DEPLOY = Bundle.ROOT.resolve("deploy");
  static final List<String> OVERLAYS = List.of("node-local-files", "etcd", "central");
  /**
   * Secrets the operator creates (docs/operations.md says how); the manifests only name them. (The
   * nodes' own certificates, one Secret per node, are made by overlays/central/issue-node-certs.sh
   * and reach each node by a Job of its own, not by these manifests.)
   */
  static final Set<String> OPERATOR_SECRETS = Set.of("jipam-etcd-client", "jipamd-tls");
  /** Commands the image has (deploy/image/Containerfile). */
  static final Set<String> IMAGE_COMMANDS = Set.of("/usr/local/bin/jipam-node-setup",
      "/opt/jipam/bundle/jipam.d/current/bin/jipamd", "sleep");
  private static final YAMLMapper YAML = new YAMLMapper();
  private static final ObjectMapper JSON = new ObjectMapper();

  private static List<Path> files(String suffix) throws IOException {
    try (Stream<Path> all = Files.walk(DEPLOY)) {
      return all.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
    }
  }

  static List<JsonNode> documents(String yaml) throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try (var parser = new YAMLFactory().createParser(yaml)) {
      for (var it = YAML.readValues(parser, JsonNode.class); it.hasNext(); ) {
        JsonNode doc = it.next();
        if (doc != null && !doc.isNull() && !doc.isEmpty()) {
          docs.add(doc);
        }
      }
    }
    return docs;
  }

  @Test
  void everyYamlAndConflist_parses() throws Exception {
    List<Path> yamls = files(".yaml");
    assertTrue(yamls.size() >= 15, "deploy/ has only " + yamls);
    for (Path yaml : yamls) {
      List<JsonNode> docs = documents(Files.readString(yaml));
      assertFalse(docs.isEmpty(), yaml + " is empty");
      for (JsonNode doc : docs) {
        boolean kustomization = yaml.getFileName().toString().equals("kustomization.yaml");
        boolean jipamdConfig = yaml.getFileName().toString().startsWith("jipamd-") && doc.has("store");
        if (!kustomization && !jipamdConfig) {
          assertTrue(doc.hasNonNull("apiVersion") && doc.hasNonNull("kind") && doc.path("metadata").hasNonNull("name"),
              yaml + ": a resource needs apiVersion, kind and metadata.name: " + doc);
        }
      }
    }
    List<Path> conflists = files(".conflist");
    assertEquals(2, conflists.size(), conflists.toString());
    for (Path conflist : conflists) {
      JsonNode ipam = JSON.readTree(Files.readString(conflist)).path("plugins").path(0).path("ipam");
      assertEquals("jipam", ipam.path("type").asText(), conflist.toString());
    }
  }

  @Test
  void kustomizations_nameOnlyFilesThatExist() throws Exception {
    for (Path kustomization : files("kustomization.yaml")) {
      JsonNode k = YAML.readTree(kustomization.toFile());
      Path dir = kustomization.getParent();
      List<String> named = new ArrayList<>();
      k.path("resources").forEach(r -> named.add(r.asText()));
      k.path("components").forEach(r -> named.add(r.asText()));
      k.path("patches").forEach(p -> named.add(p.path("path").asText()));
      k.path("configMapGenerator").forEach(g -> g.path("files").forEach(f -> {
        String file = f.asText();
        named.add(file.substring(file.indexOf('=') + 1));
      }));
      assertFalse(named.isEmpty(), kustomization.toString());
      for (String name : named) {
        assertTrue(Files.exists(dir.resolve(name)), kustomization + " names " + name + ", which does not exist");
      }
    }
  }

  @Test
  void containerfile_copiesWhatExists() throws Exception {
    String containerfile = Files.readString(DEPLOY.resolve("image/Containerfile"));
    assertTrue(containerfile.contains("COPY deploy/image/jipam-node-setup /usr/local/bin/jipam-node-setup"));
    assertTrue(Files.isExecutable(DEPLOY.resolve("image/jipam-node-setup")));
    assertTrue(containerfile.contains("dist/jipam-${VERSION}-linux-amd64.tar.gz")
        && containerfile.contains("-C /opt/jipam/bundle"), "the image unpacks the bundle where the manifests run it");
  }

  static boolean kustomizeAvailable() {
    try {
      return Exec.run(List.of("kubectl", "kustomize", "--help"), null, "", Duration.ofSeconds(30)).exit() == 0;
    } catch (RuntimeException notInstalled) {
      return false;
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"node-local-files", "etcd", "central"})
  void overlay_builds_referencesResolve(String overlay) throws Exception {
    assumeTrue(kustomizeAvailable(), "kubectl (with kustomize) is not installed: deploy/overlays/" + overlay
        + " was not built; only the file checks ran");
    String built = Exec.run(List.of("kubectl", "kustomize", DEPLOY.resolve("overlays").resolve(overlay).toString()),
        null, "", Duration.ofSeconds(60)).ok().stdout();
    List<JsonNode> docs = documents(built);
    Map<String, Set<String>> names = new HashMap<>();
    Map<String, JsonNode> configMaps = new HashMap<>();
    Map<String, JsonNode> serviceAccounts = new HashMap<>();
    for (JsonNode doc : docs) {
      String kind = doc.path("kind").asText();
      String name = doc.path("metadata").path("name").asText();
      assertTrue(names.computeIfAbsent(kind, x -> new HashSet<>()).add(name), overlay + ": two " + kind + " " + name);
      if (!kind.equals("Namespace") && !kind.startsWith("Cluster")) {
        assertEquals("jipam", doc.path("metadata").path("namespace").asText(), overlay + ": " + kind + " " + name);
      }
      if (kind.equals("ConfigMap")) {
        configMaps.put(name, doc);
      }
      if (kind.equals("ServiceAccount")) {
        serviceAccounts.put(name, doc);
      }
    }
    assertTrue(names.getOrDefault("DaemonSet", Set.of()).contains("jipam-node"), overlay + ": " + names);

    Map<String, Set<Integer>> hostPorts = new HashMap<>();
    for (JsonNode doc : docs) {
      String kind = doc.path("kind").asText();
      if (kind.equals("DaemonSet") || kind.equals("Deployment")) {
        Set<Integer> ports = checkPodSpec(overlay, doc, names, configMaps);
        checkApiToken(overlay, doc, serviceAccounts);
        checkLeastPrivilege(overlay, doc);
        String workload = kind + " " + doc.path("metadata").path("name").asText();
        // the bundle is linux-amd64: a pod on another architecture would fail and install nothing
        JsonNode selector = doc.path("spec").path("template").path("spec").path("nodeSelector");
        assertEquals("amd64", selector.path("kubernetes.io/arch").asText(), overlay + ": " + workload + " " + selector);
        assertEquals("linux", selector.path("kubernetes.io/os").asText(), overlay + ": " + workload + " " + selector);
        if (kind.equals("Deployment") && !ports.isEmpty()) {
          JsonNode rolling = doc.path("spec").path("strategy").path("rollingUpdate");
          assertEquals(0, rolling.path("maxSurge").asInt(-1), overlay + ": " + workload + " takes host ports " + ports
              + ": a surge pod can find no node with them free; roll it with maxSurge 0");
        }
        hostPorts.forEach((other, taken) -> {
          Set<Integer> shared = new HashSet<>(taken);
          shared.retainAll(ports);
          assertTrue(shared.isEmpty(), overlay + ": " + workload + " and " + other + " both take host ports " + shared
              + " (both on the node's network: one of them may run on a node of the other)");
        });
        hostPorts.put(workload, ports);
        checkServiceVariablesPrecede(overlay, doc, docs);
      }
      if (kind.equals("Service")) {
        checkService(overlay, doc, docs);
      }
      if (kind.equals("ClusterRoleBinding")) {
        assertTrue(names.get("ClusterRole").contains(doc.path("roleRef").path("name").asText()), doc.toString());
        for (JsonNode subject : doc.path("subjects")) {
          assertTrue(names.get("ServiceAccount").contains(subject.path("name").asText()), doc.toString());
        }
      }
    }
  }

  /** Where a pod's containers find the service account's token. */
  static final String API_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";

  /**
   * No pod has the API token mounted into every container (the pod's setting, or else its service
   * account's, whose default is to mount it): jipamd reads no Kubernetes API. A token mounted
   * explicitly reaches only the install step, which reads its Node.
   */
  private static void checkApiToken(String overlay, JsonNode workload, Map<String, JsonNode> serviceAccounts) {
    String where = overlay + ": " + workload.path("kind").asText() + " " + workload.path("metadata").path("name").asText();
    JsonNode spec = workload.path("spec").path("template").path("spec");
    JsonNode account = serviceAccounts.get(spec.path("serviceAccountName").asText());
    boolean automount = spec.has("automountServiceAccountToken") ? spec.path("automountServiceAccountToken").asBoolean()
        : account == null || account.path("automountServiceAccountToken").asBoolean(true);
    assertFalse(automount, where + ": the API token is mounted into every container of the pod");
    List<JsonNode> containers = new ArrayList<>();
    spec.path("initContainers").forEach(containers::add);
    spec.path("containers").forEach(containers::add);
    for (JsonNode container : containers) {
      for (JsonNode mount : container.path("volumeMounts")) {
        if (mount.path("mountPath").asText().equals(API_TOKEN_PATH)) {
          assertEquals("install", container.path("name").asText(), where + ": container "
              + container.path("name").asText() + " has the API token");
        }
      }
    }
  }

  /**
   * Checks one workload's pod spec; returns the ports its pods take on the node's network (none
   * when it has a network of its own).
   */
  private static Set<Integer> checkPodSpec(String overlay, JsonNode workload, Map<String, Set<String>> names,
      Map<String, JsonNode> configMaps) throws Exception {
    Set<Integer> hostPorts = new HashSet<>();
    String where = overlay + ": " + workload.path("kind").asText() + " " + workload.path("metadata").path("name").asText();
    JsonNode template = workload.path("spec").path("template");
    JsonNode selector = workload.path("spec").path("selector").path("matchLabels");
    selector.fields().forEachRemaining(e -> assertEquals(e.getValue(), template.path("metadata").path("labels").path(e.getKey()),
        where + ": selector " + e.getKey() + " does not match the pod's labels"));
    JsonNode spec = template.path("spec");
    assertTrue(names.get("ServiceAccount").contains(spec.path("serviceAccountName").asText()), where);
    Map<String, JsonNode> volumes = new HashMap<>();
    for (JsonNode volume : spec.path("volumes")) {
      volumes.put(volume.path("name").asText(), volume);
      if (volume.has("configMap")) {
        assertTrue(configMaps.containsKey(volume.path("configMap").path("name").asText()),
            where + ": volume " + volume + " names a ConfigMap that the overlay does not make");
      }
      if (volume.has("secret")) {
        assertTrue(OPERATOR_SECRETS.contains(volume.path("secret").path("secretName").asText()),
            where + ": volume " + volume + " names a Secret that docs/operations.md does not list");
      }
    }
    List<JsonNode> containers = new ArrayList<>();
    spec.path("initContainers").forEach(containers::add);
    spec.path("containers").forEach(containers::add);
    for (JsonNode container : containers) {
      String c = where + " container " + container.path("name").asText();
      assertTrue(container.path("image").asText().startsWith("jipam:"), c + ": image " + container.path("image"));
      assertTrue(IMAGE_COMMANDS.contains(container.path("command").path(0).asText()), c + ": " + container.path("command"));
      Map<String, String> mounts = new HashMap<>();
      for (JsonNode mount : container.path("volumeMounts")) {
        String volume = mount.path("name").asText();
        assertTrue(volumes.containsKey(volume), c + " mounts volume " + volume + ", which the pod does not have");
        mounts.put(mount.path("mountPath").asText(), volume);
      }
      JsonNode command = container.path("command");
      for (int i = 0; i + 1 < command.size(); i++) {
        if (command.get(i).asText().equals("--config")) {
          checkJipamdConfig(c, command.get(i + 1).asText(), mounts, volumes, configMaps);
          JsonNode config = YAML.readTree(mountedConfigMapFile(c, command.get(i + 1).asText(), mounts, volumes,
              configMaps));
          checkProbes(c, container, config);
          checkNoClusterDependency(c, spec, container, config, names);
          for (String key : List.of("metrics", "listen")) {
            if (config.has(key)) {
              hostPorts.add(portOf(config.path(key).asText()));
            }
          }
        }
      }
      container.path("ports").forEach(port -> hostPorts.add(port.path("containerPort").asInt()));
      if (container.path("name").asText().equals("install")) {
        Map<String, String> hostPaths = new HashMap<>();
        mounts.forEach((path, volume) -> hostPaths.put(volumes.get(volume).path("hostPath").path("path").asText(), path));
        assertEquals("/host/opt/cni/bin", hostPaths.get("/opt/cni/bin"), c + ": " + mounts);
        assertEquals("/host/etc/cni/net.d", hostPaths.get("/etc/cni/net.d"), c + ": " + mounts);
        String conflistVolume = mounts.get("/etc/jipam/cni");
        assertNotNull(conflistVolume, c + " has no conflist at /etc/jipam/cni: " + mounts);
        JsonNode conflistMap = configMaps.get(volumes.get(conflistVolume).path("configMap").path("name").asText());
        JsonNode conflist = JSON.readTree(conflistMap.path("data").path("10-jipam.conflist").asText());
        JsonNode ipam = conflist.path("plugins").path(0).path("ipam");
        assertEquals("jipam", ipam.path("type").asText(), c + ": " + conflist);
        if (ipam.has("daemon")) {
          String socket = ipam.path("daemon").path("socket").asText();
          boolean served = false;
          for (JsonNode other : spec.path("containers")) {
            for (JsonNode mount : other.path("volumeMounts")) {
              JsonNode hostPath = volumes.getOrDefault(mount.path("name").asText(), JSON.createObjectNode())
                  .path("hostPath");
              served |= other.path("name").asText().equals("jipamd") && hostPath.has("path")
                  && socket.startsWith(hostPath.path("path").asText() + "/");
            }
          }
          assertTrue(served, c + ": no jipamd container has the host path of the plugin's socket " + socket);
        }
      }
    }
    return spec.path("hostNetwork").asBoolean(false) ? hostPorts : Set.of();
  }

  /**
   * A container variable made of a Service's variable ({@code $(NAME_SERVICE_HOST)}) is set only in
   * pods created after that Service: kustomize's output, which {@code kubectl apply} creates in its
   * order, puts the Service before the workload.
   */
  private static void checkServiceVariablesPrecede(String overlay, JsonNode workload, List<JsonNode> docs) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\$\\(([A-Z0-9_]+)_SERVICE_HOST\\)")
        .matcher(workload.toString());
    while (m.find()) {
      String service = m.group(1).toLowerCase(java.util.Locale.ROOT).replace('_', '-');
      int at = docs.indexOf(workload);
      boolean before = false;
      for (int i = 0; i < at; i++) {
        before |= docs.get(i).path("kind").asText().equals("Service")
            && docs.get(i).path("metadata").path("name").asText().equals(service);
      }
      assertTrue(before, overlay + ": " + workload.path("metadata").path("name").asText() + " uses " + m.group()
          + ", but the Service " + service + " does not come before it");
    }
  }

  /**
   * What a jipamd needs before the cluster's pods have addresses, which jipam hands out: its pod
   * has the node's network, and a remote store whose host is a name is reached by the IP of the
   * Service of that name ({@code JIPAMD_REMOTE_ADDRESS} from Kubernetes' {@code <NAME>_SERVICE_HOST}
   * variable), not through the cluster's DNS.
   */
  /**
   * Every long-running container (the installer, an init container, is the one that needs root's
   * capabilities: it writes the host's CNI folders) can gain no privilege and drops every
   * capability: jipamd serves as root with none (the socket and files it owns), and the idle one
   * needs none at all and runs as a user.
   */
  private static void checkLeastPrivilege(String overlay, JsonNode workload) {
    for (JsonNode c : workload.path("spec").path("template").path("spec").path("containers")) {
      String where = overlay + ": " + workload.path("metadata").path("name").asText() + "/" + c.path("name").asText();
      JsonNode sc = c.path("securityContext");
      assertFalse(sc.path("allowPrivilegeEscalation").asBoolean(true), where + " may gain privileges: " + sc);
      List<String> dropped = new ArrayList<>();
      sc.path("capabilities").path("drop").forEach(d -> dropped.add(d.asText()));
      assertTrue(dropped.contains("ALL"), where + " keeps the runtime's default capabilities: " + sc);
      if (c.path("name").asText().equals("idle")) {
        assertTrue(sc.path("runAsNonRoot").asBoolean(false), where + " runs as root: " + sc);
      }
    }
  }

  private static void checkNoClusterDependency(String where, JsonNode spec, JsonNode container, JsonNode config,
      Map<String, Set<String>> names) {
    assertTrue(spec.path("hostNetwork").asBoolean(false), where + ": a jipamd pod without the node's network waits"
        + " for an address from the CNI that jipam is");
    if (!config.path("store").asText().equals("remote")) {
      return;
    }
    String remote = config.path("remote").asText();
    String host = remote.substring(0, remote.lastIndexOf(':'));
    if (remote.startsWith("unix:") || remote.startsWith("/") || host.matches("[0-9.]+|\\[.*\\]")) {
      return;
    }
    String service = host.substring(0, host.indexOf('.') < 0 ? host.length() : host.indexOf('.'));
    assertTrue(names.getOrDefault("Service", Set.of()).contains(service), where + ": remote " + remote
        + " names no Service of the overlay");
    String expected = "$(" + service.toUpperCase(java.util.Locale.ROOT).replace('-', '_') + "_SERVICE_HOST)";
    String given = null;
    for (JsonNode env : container.path("env")) {
      if (env.path("name").asText().equals("JIPAMD_REMOTE_ADDRESS")) {
        given = env.path("value").asText();
      }
    }
    assertEquals(expected, given, where + ": remote " + remote + " needs the cluster's DNS, which runs only once"
        + " jipam hands out addresses: set JIPAMD_REMOTE_ADDRESS to the Service's IP");
  }

  /**
   * A jipamd container's probes reach what its config serves: an {@code httpGet} probe asks the
   * metrics port, {@code /healthz} (the store answers) for readiness and start-up, {@code /livez}
   * (the event loop turns, no store read) for liveness, which every jipamd has: a liveness probe on
   * the store would restart every jipamd of the cluster while etcd is down, and without one a
   * jipamd whose event loop stopped would leave its node's pods without addresses until restarted by
   * hand. A {@code grpc} probe asks a listener without TLS (kubelet's gRPC probe speaks plaintext and
   * presents no client certificate, so a pod probed that way on a TLS listener never becomes ready).
   */
  private static void checkProbes(String where, JsonNode container, JsonNode config) {
    assertEquals("/livez", container.path("livenessProbe").path("httpGet").path("path").asText(),
        where + ": a jipamd needs a liveness probe of /livez on its metrics port: " + container.path("livenessProbe"));
    for (String kind : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
      JsonNode probe = container.path(kind);
      String p = where + ": " + kind + " " + probe;
      if (probe.has("grpc")) {
        assertFalse(config.has("tls-cert"), p + " is a gRPC probe of a listener with TLS (" + config.path("tls-cert")
            + "): kubelet's gRPC probe speaks plaintext; probe httpGet /healthz on the metrics port");
        assertEquals(portOf(config.path("listen").asText()), probe.path("grpc").path("port").asInt(), p);
      } else if (probe.has("httpGet")) {
        assertEquals(kind.equals("livenessProbe") ? "/livez" : "/healthz", probe.path("httpGet").path("path").asText(), p);
        JsonNode port = probe.path("httpGet").path("port");
        int number = port.isInt() ? port.asInt() : -1;
        for (JsonNode declared : container.path("ports")) {
          if (declared.path("name").asText().equals(port.asText())) {
            number = declared.path("containerPort").asInt();
          }
        }
        assertTrue(config.has("metrics"), p + ": the config serves no metrics port");
        assertEquals(portOf(config.path("metrics").asText()), number, p + ": not the config's metrics port");
      } else {
        assertTrue(probe.isMissingNode(), p + ": neither httpGet nor grpc");
      }
    }
  }

  private static int portOf(String hostPort) {
    return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
  }

  /**
   * The jipamd config file is in a mounted ConfigMap; the files it names, and those its etcd
   * store config names, are in mounted volumes.
   */
  private static void checkJipamdConfig(String where, String file, Map<String, String> mounts,
      Map<String, JsonNode> volumes, Map<String, JsonNode> configMaps) throws Exception {
    String text = mountedConfigMapFile(where, file, mounts, volumes, configMaps);
    JsonNode config = YAML.readTree(text);
    assertTrue(config.has("store"), where + ": " + text);
    List<String> paths = new ArrayList<>();
    collectPaths(config, paths);
    if (config.has("etcd-config")) {
      String etcd = config.path("etcd-config").asText();
      collectPaths(JSON.readTree(mountedConfigMapFile(where, etcd, mounts, volumes, configMaps)), paths);
    }
    for (String path : paths) {
      assertTrue(mounts.containsKey(path.substring(0, path.lastIndexOf('/'))),
          where + ": " + file + " names " + path + ", which no mounted volume provides: " + mounts.keySet());
    }
  }

  /** The text of {@code file}, which must be in a mounted ConfigMap. */
  private static String mountedConfigMapFile(String where, String file, Map<String, String> mounts,
      Map<String, JsonNode> volumes, Map<String, JsonNode> configMaps) {
    String dir = file.substring(0, file.lastIndexOf('/'));
    String volume = mounts.get(dir);
    assertNotNull(volume, where + ": " + file + " is not in a mounted volume: " + mounts);
    JsonNode map = configMaps.get(volumes.get(volume).path("configMap").path("name").asText());
    assertNotNull(map, where + ": " + file + " is not in a generated ConfigMap");
    String text = map.path("data").path(file.substring(dir.length() + 1)).asText(null);
    assertNotNull(text, where + ": the ConfigMap has no " + file);
    return text;
  }

  /**
   * Every jipamd config of deploy/ is one jipamd takes: {@code jipamd --check-config} exits 0 on
   * it, and the etcd store config it names (the file of the same ConfigMap generator) is one the
   * etcd store's parser takes. Paths under /etc are replaced by readable files of the test.
   */
  @Test
  void jipamdConfigs_passCheckConfigAndTheEtcdStoresParser(@TempDir Path tmp) throws Exception {
    Path pem = Files.writeString(tmp.resolve("x.pem"), "not read by --check-config\n");
    int checked = 0;
    for (Path yaml : files(".yaml")) {
      if (!yaml.getFileName().toString().startsWith("jipamd-") || !YAML.readTree(yaml.toFile()).has("store")) {
        continue;
      }
      Map<String, Object> settings = YAML.readValue(yaml.toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
      if (settings.get("etcd-config") instanceof String etcdConfig) {
        // the generator entry "etcd.json=FILE" of the overlay that mounts this config with it
        String name = etcdConfig.substring(etcdConfig.lastIndexOf('/') + 1);
        Path source = null;
        for (JsonNode generator : YAML.readTree(yaml.resolveSibling("kustomization.yaml").toFile())
            .path("configMapGenerator")) {
          for (JsonNode f : generator.path("files")) {
            if (f.asText().startsWith(name + "=")) {
              source = yaml.resolveSibling(f.asText().substring(name.length() + 1));
            }
          }
        }
        assertNotNull(source, yaml + " names " + etcdConfig + ", which no ConfigMap generator beside it provides");
        String json = Files.readString(source).replaceAll("\"/etc/[^\"]*\"", "\"" + pem + "\"");
        @SuppressWarnings("unchecked")
        Map<String, Object> store = JSON.readValue(json, Map.class);
        assertEquals(3, EtcdStoreConfig.fromJson(store).endpoints().size(), source.toString());
        settings.put("etcd-config", Files.writeString(tmp.resolve(name), json).toString());
      }
      Path copy = Files.writeString(tmp.resolve("jipamd.yaml"), YAML.writeValueAsString(settings));
      JipamdConfigProbe.Run run = JipamdConfigProbe.run(Map.of(), "--check-config", copy.toString());
      assertEquals(0, run.exit(), yaml + ": " + run.err());
      checked++;
    }
    assertEquals(4, checked, "the jipamd configs of deploy/");
  }

  private static void collectPaths(JsonNode node, List<String> paths) {
    if (node.isTextual() && node.asText().startsWith("/etc/")) {
      paths.add(node.asText());
    }
    node.forEach(child -> collectPaths(child, paths));
  }

  private static void checkService(String overlay, JsonNode service, List<JsonNode> docs) {
    JsonNode selector = service.path("spec").path("selector");
    JsonNode pods = null;
    for (JsonNode doc : docs) {
      JsonNode labels = doc.path("spec").path("template").path("metadata").path("labels");
      boolean matches = labels.isObject() && selector.size() > 0;
      for (var it = selector.fields(); it.hasNext(); ) {
        var e = it.next();
        matches &= e.getValue().equals(labels.path(e.getKey()));
      }
      if (matches) {
        pods = doc.path("spec").path("template").path("spec");
      }
    }
    assertNotNull(pods, overlay + ": Service " + service.path("metadata").path("name") + " selects no workload");
    Set<String> portNames = new HashSet<>();
    pods.path("containers").forEach(c -> c.path("ports").forEach(p -> portNames.add(p.path("name").asText())));
    for (JsonNode port : service.path("spec").path("ports")) {
      assertTrue(portNames.contains(port.path("targetPort").asText()),
          overlay + ": Service port " + port + " targets a port no container names: " + portNames);
    }
  }

  /**
   * Every jipamd container bounds its heap and direct buffers (JIPAMD_HEAP_OPTS, read by the
   * launcher) to fit its memory limit with 128 MiB left for metaspace, code and thread stacks.
   */
  @Test
  void jipamdContainers_heapAndDirectMemoryFitTheLimit() throws Exception {
    int checked = 0;
    for (Path yaml : files(".yaml")) {
      for (JsonNode doc : documents(Files.readString(yaml))) {
        for (JsonNode c : doc.path("spec").path("template").path("spec").path("containers")) {
          if (!c.path("name").asText().equals("jipamd") || c.path("resources").path("limits").path("memory").isMissingNode()) {
            continue; // not jipamd, or a patch that leaves its limit and environment as they are
          }
          String opts = null;
          for (JsonNode e : c.path("env")) {
            if (e.path("name").asText().equals("JIPAMD_HEAP_OPTS")) {
              opts = e.path("value").asText();
            }
          }
          String where = DEPLOY.relativize(yaml).toString();
          assertTrue(opts != null, where + ": jipamd without JIPAMD_HEAP_OPTS");
          java.util.regex.Matcher heap = java.util.regex.Pattern.compile("-Xmx(\\d+)m").matcher(opts);
          java.util.regex.Matcher direct = java.util.regex.Pattern.compile("-XX:MaxDirectMemorySize=(\\d+)m").matcher(opts);
          assertTrue(heap.find() && direct.find(), where + ": " + opts);
          String limit = c.path("resources").path("limits").path("memory").asText();
          long limitMi = limit.endsWith("Gi") ? Long.parseLong(limit.replace("Gi", "")) * 1024
              : Long.parseLong(limit.replace("Mi", ""));
          long needs = Long.parseLong(heap.group(1)) + Long.parseLong(direct.group(1)) + 128;
          assertTrue(needs <= limitMi, where + ": " + opts + " + 128 MiB is over the limit " + limit);
          checked++;
        }
      }
    }
    assertTrue(checked >= 2, "jipamd containers checked: " + checked);
    String launcher = Files.readString(Bundle.ROOT.resolve("ipam-server/src/dist/bin/jipamd"));
    assertTrue(launcher.contains("JIPAMD_HEAP_OPTS:--Xmx192m -XX:MaxDirectMemorySize=96m"), "the launcher's default");
  }

  /**
   * issue-node-certs.sh's Job puts a node's certificate where that node's jipamd waits for it: its
   * pod has the node's network, since on that node no pod gets an address from jipam before it.
   */
  @Test
  void nodeCertificateJob_hasTheNodesNetwork() throws Exception {
    JsonNode job = YAML.readTree(Files.readString(DEPLOY.resolve("overlays/central/node-cert-install-job.yaml")));
    assertEquals("Job", job.path("kind").asText());
    assertTrue(job.path("spec").path("template").path("spec").path("hostNetwork").asBoolean(false), job.toString());
  }

  /**
   * issue-node-certs.sh applies the Job itself, out of kustomize's reach: it must put the overlay's
   * image in (kustomization.yaml's images), or IMAGE when set. The template said {@code image:
   * jipam}, so the pod pulled {@code jipam:latest}, which no registry has, and no node's jipamd
   * ever got its certificate. Run with stand-ins for kubectl and openssl that keep what is applied.
   */
  @Test
  void issueNodeCerts_jobRunsTheOverlaysImageOrIMAGE(@TempDir Path dir) throws Exception {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Files.writeString(bin.resolve("kubectl"), "#!/bin/sh\ncase \"$*\" in *'apply -f -'*) cat >> \"$APPLIED\";"
        + " echo --- >> \"$APPLIED\" ;; *'create secret'*) echo 'kind: Secret' ;; esac\n");
    Files.writeString(bin.resolve("openssl"), "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in -keyout|-out) : > \"$2\";"
        + " shift ;; esac; shift; done\n");
    for (Path stub : List.of(bin.resolve("kubectl"), bin.resolve("openssl"))) {
      stub.toFile().setExecutable(true);
    }
    JsonNode kustomization = YAML.readTree(DEPLOY.resolve("overlays/central/kustomization.yaml").toFile());
    JsonNode jipam = kustomization.path("images").get(0);
    String overlays = jipam.path("newName").asText() + ":" + jipam.path("newTag").asText();
    for (String image : new String[] {null, "registry.example:5000/jipam/jipam@sha256:" + "0".repeat(64)}) {
      Path applied = dir.resolve("applied-" + (image == null ? "default" : "set") + ".yaml");
      Map<String, String> env = new HashMap<>(Map.of("PATH", bin + ":/usr/bin:/bin", "APPLIED", applied.toString()));
      if (image != null) {
        env.put("IMAGE", image);
      }
      Exec.run(List.of(DEPLOY.resolve("overlays/central/issue-node-certs.sh").toString(), "ca.pem", "ca.key",
          "server-ca.pem", "node-a"), env, "", Duration.ofSeconds(30)).ok();
      JsonNode job = documents(Files.readString(applied)).stream().filter(d -> d.path("kind").asText().equals("Job"))
          .findFirst().orElseThrow(() -> new AssertionError("no Job applied"));
      JsonNode pod = job.path("spec").path("template").path("spec");
      assertEquals("node-a", pod.path("nodeName").asText(), job.toString());
      assertEquals("jipam-node-tls-node-a", job.path("metadata").path("name").asText(), job.toString());
      assertEquals(image == null ? overlays : image, pod.path("containers").get(0).path("image").asText(), job.toString());
    }
    // a Job's name is a label value of its pods: 63 characters at most, a DNS label's characters at
    // its ends and around dots; node names are DNS subdomains of up to 253
    Map<String, String> env = Map.of("PATH", bin + ":/usr/bin:/bin", "APPLIED", dir.resolve("applied-long.yaml").toString());
    String longA = "ip-10-0-0-1.eu-west-1.compute.internal.example-" + "a".repeat(12); // 60 characters
    String longB = longA + "2"; // the same first 52 characters: told apart by the hash
    String shortest = "node-" + "b".repeat(43); // exactly 63 with the prefix
    // a certificate's CN holds at most 64 characters, and the central jipamd reads the node from it:
    // a longer name is not issued, said so, and the run fails after issuing the others
    String tooLong = "n".repeat(65);
    Exec.Result run = Exec.run(List.of(DEPLOY.resolve("overlays/central/issue-node-certs.sh").toString(), "ca.pem",
        "ca.key", "server-ca.pem", longA, tooLong, longB, shortest), env, "", Duration.ofSeconds(30));
    assertEquals(1, run.exit(), run.toString());
    assertTrue(run.stderr().contains("node " + tooLong + ": not issued: its name has 65 characters"), run.toString());
    Map<String, String> jobs = new HashMap<>();
    for (JsonNode job : documents(Files.readString(dir.resolve("applied-long.yaml")))) {
      if (job.path("kind").asText().equals("Job")) {
        jobs.put(job.path("spec").path("template").path("spec").path("nodeName").asText(),
            job.path("metadata").path("name").asText());
      }
    }
    assertEquals(Set.of(longA, longB, shortest), jobs.keySet());
    assertEquals("jipam-node-tls-" + shortest, jobs.get(shortest));
    assertNotEquals(jobs.get(longA), jobs.get(longB), jobs.toString());
    for (String name : jobs.values()) {
      assertTrue(name.length() <= 63 && name.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"),
          "Job name " + name);
    }
    if (kustomizeAvailable()) {
      String built = Exec.run(List.of("kubectl", "kustomize", DEPLOY.resolve("overlays/central").toString()),
          null, "", Duration.ofSeconds(60)).ok().stdout();
      assertTrue(built.contains("image: " + overlays + "\n"), "the DaemonSet runs " + overlays + ":\n" + built);
    }
  }

  @Test
  void operatorSecrets_documented() throws Exception {
    Path operations = Bundle.ROOT.resolve("docs/operations.md");
    assertTrue(Files.exists(operations), "docs/operations.md is missing");
    String text = Files.readString(operations);
    for (String secret : OPERATOR_SECRETS) {
      assertTrue(text.contains("`" + secret + "`"), "docs/operations.md does not say how to create " + secret);
    }
  }
}
