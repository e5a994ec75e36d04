package io.jipam.core.cni;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON to plain Java values on jackson-core's streaming parser: objects become {@code Map<String,
 * Object>} (insertion-ordered), arrays {@code List<Object>}, numbers {@code Long} or {@code
 * Double}, plus {@code String}, {@code Boolean} and null.
 *
 * <p>Why not jackson-databind: a one-shot plugin process pays for every class it loads, and object
 * mapping costs it a few hundred milliseconds; the streaming parser costs about 15 ms. Network
 * configs are small, so a tree of plain values is enough.
 *
 * <p>Also holds the typed accessors config parsing uses; each names the offending key in its
 * error. Stateless and thread-safe.
 */
public final class JsonTree {
  static final JsonFactory FACTORY = JsonFactory.builder().build();

  private JsonTree() {}

  /**
   * Parses one JSON document.
   *
   * @throws IpamException {@code DECODE_FAILURE} naming the position of the error
   */
  public static Object parse(byte[] json) {
    try (JsonParser parser = FACTORY.createParser(json)) {
      JsonToken first = parser.nextToken();
      if (first == null) {
        throw new IpamException(ErrorCode.DECODE_FAILURE, "empty input: expected a JSON document");
      }
      Object value = read(parser, first, 0);
      if (parser.nextToken() != null) {
        throw new IpamException(ErrorCode.DECODE_FAILURE,
            "unexpected content after the JSON document at " + location(parser));
      }
      return value;
    } catch (JsonProcessingException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "invalid JSON: " + e.getOriginalMessage()
          + " at " + (e.getLocation() == null ? "?" : "line " + e.getLocation().getLineNr()
          + " column " + e.getLocation().getColumnNr()), e);
    } catch (IOException e) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "cannot read JSON: " + e.getMessage(), e);
    }
  }

  private static String location(JsonParser parser) {
    var at = parser.currentLocation();
    return "line " + at.getLineNr() + " column " + at.getColumnNr();
  }

  private static Object read(JsonParser parser, JsonToken token, int depth) throws IOException {
    if (depth > 64) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "JSON nested deeper than 64 levels");
    }
    switch (token) {
      case START_OBJECT: {
        Map<String, Object> map = new LinkedHashMap<>();
        JsonToken t;
        while ((t = parser.nextToken()) == JsonToken.FIELD_NAME) {
          String name = parser.currentName();
          map.put(name, read(parser, parser.nextToken(), depth + 1));
        }
        return map;
      }
      case START_ARRAY: {
        List<Object> list = new ArrayList<>();
        JsonToken t;
        while ((t = parser.nextToken()) != JsonToken.END_ARRAY) {
          list.add(read(parser, t, depth + 1));
        }
        return list;
      }
      case VALUE_STRING:
        return parser.getText();
      case VALUE_NUMBER_INT:
        return parser.getLongValue();
      case VALUE_NUMBER_FLOAT:
        return parser.getDoubleValue();
      case VALUE_TRUE:
        return Boolean.TRUE;
      case VALUE_FALSE:
        return Boolean.FALSE;
      case VALUE_NULL:
        return null;
      default:
        throw new IpamException(ErrorCode.DECODE_FAILURE, "unexpected JSON token " + token);
    }
  }

  // ---- typed accessors: absent or null gives null; a wrong type is INVALID_CONFIG naming the key

  @SuppressWarnings("unchecked")
  public static Map<String, Object> object(Map<String, Object> from, String key, String where) {
    Object v = from.get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Map)) {
      throw wrongType(where, key, "an object", v);
    }
    return (Map<String, Object>) v;
  }

  @SuppressWarnings("unchecked")
  public static List<Object> list(Map<String, Object> from, String key, String where) {
    Object v = from.get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof List)) {
      throw wrongType(where, key, "a list", v);
    }
    return (List<Object>) v;
  }

  public static String string(Map<String, Object> from, String key, String where) {
    Object v = from.get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof String s)) {
      throw wrongType(where, key, "a string", v);
    }
    return s;
  }

  public static Long integer(Map<String, Object> from, String key, String where) {
    Object v = from.get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Long l)) {
      throw wrongType(where, key, "an integer", v);
    }
    return l;
  }

  public static Boolean bool(Map<String, Object> from, String key, String where) {
    Object v = from.get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Boolean b)) {
      throw wrongType(where, key, "true or false", v);
    }
    return b;
  }

  @SuppressWarnings("unchecked")
  public static Map<String, Object> asObject(Object v, String where) {
    if (!(v instanceof Map)) {
      throw IpamException.invalidConfig("%s must be an object, not %s", where, describe(v));
    }
    return (Map<String, Object>) v;
  }

  private static IpamException wrongType(String where, String key, String expected, Object v) {
    return IpamException.invalidConfig("%s.%s must be %s, not %s", where, key, expected, describe(v));
  }

  static String describe(Object v) {
    if (v instanceof String s) {
      return "\"" + s + "\"";
    }
    if (v instanceof Map) {
      return "an object";
    }
    if (v instanceof List) {
      return "a list";
    }
    return String.valueOf(v);
  }
}
