package io.jipam.server;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.jipam.core.IoMessages;
import io.jipam.core.IpamException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * jipamd's settings from a YAML file and the environment, under its flags: for every option
 * {@code --some-name} the file's key {@code some-name} and the variable {@code JIPAMD_SOME_NAME}
 * give its value when the flag is not on the command line; a flag beats the environment, which
 * beats the file, which beats the built-in default.
 *
 * <pre>
 * # /etc/jipam/jipamd.yaml
 * socket: /run/jipam/jipam.sock
 * store: etcd
 * etcd-config: /etc/jipam/etcd.json
 * workers: 16
 * </pre>
 *
 * <p>The file is a flat map of scalars; an empty file, or one of comments only, holds no settings.
 * An unknown key, a key given twice, a list or map as a value, or a file that is not YAML (or not
 * UTF-8) fails at start with the key, the value and why (exit 2), as does a value its option
 * cannot take.
 */
final class ConfigFile implements CommandLine.IDefaultValueProvider {
  static final String ENV_PREFIX = "JIPAMD_";

  private final Path file;
  private final Map<String, String> values;
  private final Map<String, String> env;

  private ConfigFile(Path file, Map<String, String> values, Map<String, String> env) {
    this.file = file;
    this.values = values;
    this.env = env;
  }

  /** The settings of {@code file} (null: none) checked against the command's options. */
  static ConfigFile load(Path file, CommandSpec spec, Map<String, String> env) {
    Map<String, String> values = new LinkedHashMap<>();
    if (file != null) {
      Object tree;
      try {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory()).enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        JsonNode node = yaml.readTree(Files.readString(file));
        // empty, or only comments: no settings (readTree gives a missing node or null)
        tree = node == null || node.isMissingNode() || node.isNull() ? null : yaml.treeToValue(node, Object.class);
      } catch (JacksonException e) {
        throw IpamException.invalidConfig("config %s is not valid YAML: %s", file,
            e.getOriginalMessage().replace('\n', ' '));
      } catch (IOException e) {
        throw IpamException.invalidConfig("cannot read config %s: %s", file, IoMessages.describe(e));
      }
      if (tree != null && !(tree instanceof Map<?, ?>)) {
        throw IpamException.invalidConfig("config %s must be a map of settings, not %s", file,
            tree.getClass().getSimpleName());
      }
      if (tree != null) {
        for (Map.Entry<?, ?> e : ((Map<?, ?>) tree).entrySet()) {
          String key = String.valueOf(e.getKey());
          OptionSpec option = spec.findOption("--" + key);
          if (option == null || isMeta(key)) {
            throw IpamException.invalidConfig("config %s: unknown key \"%s\"; keys are the long options of"
                + " jipamd --help without the dashes", file, key);
          }
          Object v = e.getValue();
          if (v instanceof Map<?, ?> || v instanceof List<?>) {
            throw IpamException.invalidConfig("config %s: key \"%s\" must be a single value, not %s", file, key, v);
          }
          values.put(key, v == null ? "" : String.valueOf(v));
        }
      }
    }
    return new ConfigFile(file, values, env);
  }

  private static boolean isMeta(String key) {
    return key.equals("config") || key.equals("check-config") || key.equals("help") || key.equals("version");
  }

  static String envName(String key) {
    return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  /** Where the value of an option comes from when its flag is absent, for error messages. */
  String source(OptionSpec option) {
    String key = option.longestName().substring(2);
    if (env.containsKey(envName(key))) {
      return "environment " + envName(key);
    }
    if (values.containsKey(key)) {
      return "config " + file + " key " + key;
    }
    return null;
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec option) || !option.longestName().startsWith("--")) {
      return null;
    }
    String key = option.longestName().substring(2);
    if (isMeta(key)) {
      return null;
    }
    String fromEnv = env.get(envName(key));
    if (fromEnv != null) {
      return fromEnv;
    }
    return values.get(key);
  }
}
