package io.jipam.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.jipam.core.IpamException;
import io.jipam.core.cni.JsonReader;
import io.jipam.plugin.PluginConfigProbe;
import io.jipam.server.JipamdConfigProbe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keeps docs/configuration.md honest. Its key tables, each after a {@code <!-- keys: PREFIX -->}
 * marker, are read here and checked against jipam's real parsers:
 *
 * <ul>
 *   <li>every key a table names is read by the parsers, and every key the parsers read is in a
 *       table: a complete config is parsed through maps that record each key looked up
 *       ({@link PluginConfigProbe}: the daemon key, the network config, the etcd store's keys);
 *       jipamd's keys are its command line's options ({@link JipamdConfigProbe});
 *   <li>each row's bad value, set into a good config, gives exactly the row's error: the CNI code
 *       and message the plugin prints, or the first line {@code jipamd --check-config} prints
 *       with exit code 2 (with the test's config file shown as {@code /etc/jipam/jipamd.yaml});
 *   <li>jipamd's flag and environment columns follow from the key, and its defaults are the
 *       command line's.
 * </ul>
 */
class ConfigurationDocTest {
  static final Path DOC = Bundle.ROOT.resolve("docs/configuration.md");
  static final YAMLMapper YAML = new YAMLMapper();
  static final String DOC_CONFIG_FILE = "/etc/jipam/jipamd.yaml";

  @TempDir Path dir;

  /** One row of a key table: its prefix (the marker's) and its cells. */
  record Row(String prefix, List<String> cells) {
    String key() {
      return code(cells.get(0));
    }

    /** The key's path in the network config: prefix, then the key ("config" is the top). */
    String path() {
      return prefix.equals("config") ? key() : prefix + "." + key();
    }

    String cell(int i) {
      return i < cells.size() ? cells.get(i) : "";
    }
  }

  /** The text between the first and the last backtick of a cell; "" when it has none. */
  static String code(String cell) {
    int first = cell.indexOf('`');
    int last = cell.lastIndexOf('`');
    return first < 0 || last <= first ? "" : cell.substring(first + 1, last);
  }

  static List<Row> rows() throws IOException {
    List<Row> rows = new ArrayList<>();
    String prefix = null;
    boolean inTable = false;
    for (String line : Files.readAllLines(DOC)) {
      String t = line.strip();
      if (t.startsWith("<!-- keys: ") && t.endsWith("-->")) {
        prefix = t.substring("<!-- keys: ".length(), t.length() - 3).strip();
        inTable = false;
        continue;
      }
      if (prefix == null) {
        continue;
      }
      if (t.startsWith("|")) {
        if (!inTable) {
          inTable = true; // the header line
          continue;
        }
        if (t.startsWith("|---")) {
          continue;
        }
        List<String> cells = new ArrayList<>();
        for (String c : t.substring(1, t.length() - 1).split("\\|", -1)) {
          cells.add(c.strip());
        }
        rows.add(new Row(prefix, cells));
      } else if (inTable) {
        prefix = null;
        inTable = false;
      }
    }
    return rows;
  }

  static List<Row> rows(boolean jipamd) throws IOException {
    return rows().stream().filter(r -> r.prefix.equals("jipamd") == jipamd).toList();
  }

  // ---- the network config ----

  ObjectNode baseConfig() throws IOException {
    ObjectNode config = (ObjectNode) Bundle.json(("{'cniVersion':'1.0.0','name':'net','type':'bridge','ipam':{"
        + "'type':'jipam','dataDir':'" + dir.resolve("data") + "','ranges':[[{'subnet':'198.18.0.0/24'}]],"
        + "'routes':[{'dst':'0.0.0.0/0'}]}}").replace('\'', '"'));
    return config;
  }

  /** Where in {@code config} the path's segments lead: "a.b[0][1].c" is a, b, 0, 1, c. */
  static List<Object> segments(String path) {
    if (path.startsWith("cni.dev/")) { // one key, dots and all, then what follows it
      int end = path.indexOf('[') < 0 ? path.length() : path.indexOf('[');
      List<Object> out = segments("x" + path.substring(end));
      out.set(0, path.substring(0, end));
      return out;
    }
    List<Object> out = new ArrayList<>();
    for (String part : path.split("\\.")) {
      int bracket = part.indexOf('[');
      out.add(bracket < 0 ? part : part.substring(0, bracket));
      while (bracket >= 0) {
        int close = part.indexOf(']', bracket);
        out.add(Integer.parseInt(part.substring(bracket + 1, close)));
        bracket = part.indexOf('[', close);
      }
    }
    return out;
  }

  static void set(ObjectNode config, String path, JsonNode value) {
    List<Object> segs = segments(path);
    JsonNode at = config;
    for (int i = 0; i < segs.size() - 1; i++) {
      Object s = segs.get(i);
      JsonNode next = s instanceof Integer n ? at.get(n) : at.get((String) s);
      if (next == null || next.isNull()) {
        next = ((ObjectNode) at).putObject((String) s);
      }
      at = next;
    }
    Object last = segs.get(segs.size() - 1);
    if (last instanceof Integer n) {
      ((ArrayNode) at).set(n, value);
    } else {
      ((ObjectNode) at).set((String) last, value);
    }
  }

  /** The base config a row's bad value goes into: what its table's keys need around them. */
  ObjectNode baseFor(Row row) throws IOException {
    ObjectNode config = baseConfig();
    ObjectNode ipam = (ObjectNode) config.get("ipam");
    switch (row.prefix) {
      case "ipam.store" -> ipam.set("store", Bundle.json(
          "{\"type\": \"etcd\", \"endpoints\": [\"http://127.0.0.1:2379\"], \"node\": \"n1\"}"));
      case "cni.dev/valid-attachments[0]" -> config.set("cni.dev/valid-attachments",
          Bundle.json("[{\"containerID\": \"c1\", \"ifname\": \"eth0\"}]"));
      case "ipam.sticky" -> ipam.set("sticky", Bundle.json("{\"pods\": [\"db/*\"]}"));
      case "ipam.subPools[0]" -> ipam.set("subPools", Bundle.json(
          "[{\"name\": \"db\", \"ranges\": [[{\"subnet\": \"198.18.1.0/24\"}]]}]"));
      case "ipam.daemon" -> ipam.set("daemon", Bundle.json("{\"socket\": \"/nonexistent/jipam.sock\"}"));
      case "ipam" -> {
        if (Set.of("rangeStart", "rangeEnd", "gateway").contains(row.key())) {
          ipam.put("subnet", "198.18.2.0/24"); // the legacy keys are read only beside "subnet"
        }
      }
      default -> { }
    }
    return config;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> parsed(JsonNode config) {
    return (Map<String, Object>) JsonReader.parse(config.toString().getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void conflistTables_eachBadValue_givesTheDocumentedCodeAndMessage() throws Exception {
    List<String> wrong = new ArrayList<>();
    int checked = 0;
    for (Row row : rows(false)) {
      String bad = code(row.cell(4));
      String error = row.cell(5);
      assertFalse(bad.isEmpty() || !error.contains(":"), "row " + row.path() + " has no bad value and error");
      int code = Integer.parseInt(error.substring(0, error.indexOf(':')).strip());
      String message = code(error);
      ObjectNode config = baseFor(row);
      set(config, row.path(), Bundle.json(bad));
      try {
        PluginConfigProbe.parse(parsed(config));
        wrong.add(row.path() + " = " + bad + " was accepted");
      } catch (IpamException e) {
        if (e.code().cniCode() != code || !e.getMessage().equals(message)) {
          wrong.add(row.path() + " = " + bad + " gives " + e.code().cniCode() + ": `" + e.getMessage() + "`");
        }
      }
      checked++;
    }
    assertEquals(List.of(), wrong, "docs/configuration.md disagrees with the parsers");
    assertTrue(checked >= 40, "only " + checked + " rows found: did the tables' markers change?");
  }

  /** A config that sets every key the tables name to a good value. */
  ObjectNode completeConfig(boolean etcd) throws IOException {
    Path resolv = Files.writeString(dir.resolve("resolv.conf"), "nameserver 198.18.0.53\n");
    Path pem = Files.writeString(dir.resolve("x.pem"), "not read while parsing\n");
    String store = etcd
        ? "{'type':'etcd','endpoints':['http://127.0.0.1:2379'],'node':'n1','timeoutMillis':3000,'blockSizeV4':26,"
            + "'blockSizeV6':122,'strictAffinity':false,'tls':{'ca':'" + pem + "','cert':'" + pem + "','key':'" + pem
            + "'},'user':'u','password':'p','prefix':'/jipam'}"
        : "{'type':'host-local'}";
    return (ObjectNode) Bundle.json(("{'cniVersion':'1.1.0','name':'net','type':'bridge',"
        + "'args':{'cni':{'ips':['198.18.0.9']}},'runtimeConfig':{'ips':['198.18.0.10/24']},'prevResult':{},"
        + "'cni.dev/valid-attachments':[{'containerID':'c1','ifname':'eth0'}],"
        + "'cni.dev/attachments':[{'containerID':'c1','ifname':'eth0'}],"
        + "'ipam':{'type':'jipam','subnet':'198.18.2.0/24','rangeStart':'198.18.2.2','rangeEnd':'198.18.2.9',"
        + "'gateway':'198.18.2.1','ranges':[[{'subnet':'198.18.0.0/24','rangeStart':'198.18.0.2',"
        + "'rangeEnd':'198.18.0.200','gateway':'198.18.0.1','exclude':['198.18.0.5']}]],"
        + "'routes':[{'dst':'0.0.0.0/0','gw':'198.18.0.1','mtu':1500,'advmss':1400,'priority':1,'table':1,'scope':0}],"
        + "'resolvConf':'" + resolv + "','dataDir':'" + dir.resolve("data") + "','order':'lowest-free',"
        + "'exclude':['198.18.0.6'],'store':" + store + ",'logFile':'" + dir.resolve("log") + "',"
        + "'sticky':{'pods':['db/*'],'holdSeconds':900,'maxHeldPercent':25},'reuseDelaySeconds':30,"
        + "'subPools':[{'name':'db','ranges':[[{'subnet':'198.18.9.0/24'}]],'namespaces':['db-*'],"
        + "'pods':['*/web-*'],'nodes':['node-a*']}],"
        + "'daemon':{'socket':'/nonexistent/jipam.sock','timeoutSeconds':5}}}").replace('\'', '"'));
  }

  @Test
  void conflistTables_keysAreExactlyThoseTheParsersRead() throws Exception {
    Set<String> read = new TreeSet<>();
    for (boolean etcd : new boolean[] {false, true}) {
      PluginConfigProbe.parse(Recording.wrap(parsed(completeConfig(etcd)), "", read));
    }
    Set<String> documented = new TreeSet<>();
    for (Row row : rows(false)) {
      documented.add(row.path());
    }
    List<String> undocumented = new ArrayList<>();
    for (String key : read) {
      // GC's list has two names and one entry shape; the table describes it under one
      key = key.startsWith("cni.dev/attachments[") ? key.replace("cni.dev/attachments[", "cni.dev/valid-attachments[")
          : key;
      // a sub-pool's ranges are the network's ranges' shape; the range table describes them
      key = key.startsWith("ipam.subPools[0].ranges[0][0].") ? key.replace("ipam.subPools[0].ranges", "ipam.ranges")
          : key;
      String k = key;
      boolean parentOfDocumented = documented.stream().anyMatch(d -> d.startsWith(k + ".") || d.startsWith(k + "["));
      if (!documented.contains(key) && !parentOfDocumented) {
        undocumented.add(key);
      }
    }
    assertEquals(List.of(), undocumented, "keys the parsers read that docs/configuration.md does not list");
    List<String> unread = documented.stream().filter(d -> !read.contains(d)).toList();
    assertEquals(List.of(), unread, "keys docs/configuration.md lists that no parser reads");
  }

  /** Maps that note every key looked up in them, with its path, wrapping a parsed config. */
  static final class Recording extends LinkedHashMap<String, Object> {
    private final String path;
    private final Set<String> sink;

    private Recording(String path, Set<String> sink) {
      this.path = path;
      this.sink = sink;
    }

    @SuppressWarnings("unchecked")
    static <T> T wrap(T value, String path, Set<String> sink) {
      if (value instanceof Map<?, ?> map) {
        Recording r = new Recording(path, sink);
        for (Map.Entry<?, ?> e : map.entrySet()) {
          String key = (String) e.getKey();
          r.put(key, wrap(e.getValue(), path.isEmpty() ? key : path + "." + key, sink));
        }
        return (T) r;
      }
      if (value instanceof List<?> list) {
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
          out.add(wrap(list.get(i), path + "[" + i + "]", sink));
        }
        return (T) out;
      }
      return value;
    }

    private void note(Object key) {
      sink.add(path.isEmpty() ? String.valueOf(key) : path + "." + key);
    }

    @Override
    public Object get(Object key) {
      note(key);
      return super.get(key);
    }

    @Override
    public boolean containsKey(Object key) {
      note(key);
      return super.containsKey(key);
    }

    @Override
    public Object getOrDefault(Object key, Object fallback) {
      note(key);
      return super.getOrDefault(key, fallback);
    }
  }

  // ---- jipamd ----

  @Test
  void jipamdTable_keysFlagsEnvironmentAndDefaultsAreTheCommandLines() throws Exception {
    Map<String, JipamdConfigProbe.Option> options = new LinkedHashMap<>();
    for (JipamdConfigProbe.Option o : JipamdConfigProbe.options()) {
      options.put(o.name().substring(2), o);
    }
    Map<String, Row> documented = new LinkedHashMap<>();
    for (Row row : rows(true)) {
      documented.put(row.key(), row);
    }
    assertEquals(new TreeSet<>(options.keySet()), new TreeSet<>(documented.keySet()),
        "jipamd's options against docs/configuration.md's jipamd table");
    List<String> wrong = new ArrayList<>();
    for (Row row : documented.values()) {
      JipamdConfigProbe.Option option = options.get(row.key());
      if (!row.cell(1).startsWith("`--" + row.key() + "`")) {
        wrong.add(row.key() + ": flag " + row.cell(1));
      }
      boolean fromEnvironment = !Set.of("help", "version", "check-config").contains(row.key());
      String env = fromEnvironment ? JipamdConfigProbe.environmentName(row.key()) : "";
      if (!code(row.cell(2)).equals(env)) {
        wrong.add(row.key() + ": environment " + row.cell(2) + ", not " + env);
      }
      String defaultCell = row.cell(4).replace("`", "");
      if (option.defaultValue() != null ? !defaultCell.equals(option.defaultValue())
          : !(defaultCell.isEmpty() || defaultCell.equals("off") || defaultCell.startsWith("none"))) {
        wrong.add(row.key() + ": default " + row.cell(4) + ", not " + option.defaultValue());
      }
    }
    assertEquals(List.of(), wrong, "docs/configuration.md's jipamd table disagrees with jipamd");
  }

  @Test
  void jipamdTable_eachBadValue_givesTheDocumentedMessageAndExit2() throws Exception {
    List<String> wrong = new ArrayList<>();
    int checked = 0;
    for (Row row : rows(true)) {
      String bad = code(row.cell(6));
      String message = code(row.cell(7));
      if (bad.isEmpty()) {
        assertEquals("", message, row.key() + ": an error without a bad value");
        continue;
      }
      Map<String, Object> settings = new LinkedHashMap<>();
      settings.put("store", "memory");
      settings.put("socket", dir.resolve("j.sock").toString());
      YAML.readTree(bad).fields().forEachRemaining(e -> settings.put(e.getKey(), e.getValue().asText()));
      Path file = dir.resolve("jipamd.yaml");
      Files.writeString(file, YAML.writeValueAsString(settings));
      JipamdConfigProbe.Run run = JipamdConfigProbe.run(Map.of(), "--check-config", file.toString());
      String first = run.err().replace(file.toString(), DOC_CONFIG_FILE).lines().findFirst().orElse("");
      if (run.exit() != 2 || !first.equals(message)) {
        wrong.add(row.key() + " " + bad + " gives exit " + run.exit() + ": `" + first + "`" + run.out());
      }
      checked++;
    }
    assertEquals(List.of(), wrong, "docs/configuration.md's jipamd errors disagree with jipamd");
    assertTrue(checked >= 15, "only " + checked + " jipamd rows with a bad value");
  }
}
