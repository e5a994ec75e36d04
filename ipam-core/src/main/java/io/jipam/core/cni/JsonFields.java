package io.jipam.core.cni;

import io.jipam.core.IpamException;
import java.util.List;
import java.util.Map;

/**
 * Typed fields of a parsed JSON object ({@link JsonReader}), as config parsing reads them: an
 * absent or null field gives null; a field of the wrong type is {@code INVALID_CONFIG} naming
 * where it is ({@code where.key}), the type expected and the value found. Stateless and
 * thread-safe.
 */
public final class JsonFields {
  private JsonFields() {}

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
