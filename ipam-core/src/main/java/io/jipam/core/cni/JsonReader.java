package io.jipam.core.cni;

import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses JSON (RFC 8259) to plain Java values: objects become {@code Map<String, Object>} (insertion
 * order; a repeated key keeps its last value), arrays {@code List<Object>}, integers {@code Long}
 * (other numbers {@code Double}), plus {@code String}, {@code Boolean} and null.
 *
 * <h2>Why our own parser</h2>
 * A one-shot plugin process pays for every class it loads and initialises. Measured here with the
 * JDK 25 AOT cache: creating one jackson-core parser costs about 10 ms of a 50 ms plugin call,
 * while this reader costs well under 1 ms. Network configs are small documents; the tests check
 * this reader against jackson on generated documents.
 *
 * <p>{@link JsonFields} reads typed fields from what this returns. Stateless and thread-safe.
 */
public final class JsonReader {
  private static final int MAX_DEPTH = 64;

  private final String text;
  private int pos;

  private JsonReader(String text) {
    this.text = text;
  }

  /**
   * Parses one JSON document (UTF-8).
   *
   * @throws IpamException {@code DECODE_FAILURE} naming the line and column of the error
   */
  public static Object parse(byte[] json) {
    JsonReader reader = new JsonReader(new String(json, StandardCharsets.UTF_8));
    reader.skipWhitespace();
    if (reader.pos == reader.text.length()) {
      throw new IpamException(ErrorCode.DECODE_FAILURE, "empty input: expected a JSON document");
    }
    Object value = reader.value(0);
    reader.skipWhitespace();
    if (reader.pos != reader.text.length()) {
      throw reader.error("unexpected content after the JSON document");
    }
    return value;
  }

  private Object value(int depth) {
    if (depth > MAX_DEPTH) {
      throw error("JSON nested deeper than " + MAX_DEPTH + " levels");
    }
    if (pos >= text.length()) {
      throw error("unexpected end of input");
    }
    char c = text.charAt(pos);
    switch (c) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        return literal("true", Boolean.TRUE);
      case 'f':
        return literal("false", Boolean.FALSE);
      case 'n':
        return literal("null", null);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          return number();
        }
        throw error("unexpected character '" + c + "'");
    }
  }

  private Map<String, Object> object(int depth) {
    pos++; // {
    Map<String, Object> map = new LinkedHashMap<>();
    skipWhitespace();
    if (peek() == '}') {
      pos++;
      return map;
    }
    while (true) {
      skipWhitespace();
      if (peek() != '"') {
        throw error("expected a field name in double quotes");
      }
      String name = string();
      skipWhitespace();
      expect(':');
      skipWhitespace();
      map.put(name, value(depth + 1));
      skipWhitespace();
      char c = peek();
      pos++;
      if (c == '}') {
        return map;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or '}' in an object");
      }
    }
  }

  private List<Object> array(int depth) {
    pos++; // [
    List<Object> list = new ArrayList<>();
    skipWhitespace();
    if (peek() == ']') {
      pos++;
      return list;
    }
    while (true) {
      skipWhitespace();
      list.add(value(depth + 1));
      skipWhitespace();
      char c = peek();
      pos++;
      if (c == ']') {
        return list;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or ']' in an array");
      }
    }
  }

  private String string() {
    pos++; // opening quote
    StringBuilder out = null;
    int runStart = pos;
    while (true) {
      if (pos >= text.length()) {
        throw error("unterminated string");
      }
      char c = text.charAt(pos);
      if (c == '"') {
        String run = text.substring(runStart, pos);
        pos++;
        return out == null ? run : out.append(run).toString();
      }
      if (c < 0x20) {
        throw error("control character in a string");
      }
      if (c != '\\') {
        pos++;
        continue;
      }
      if (out == null) {
        out = new StringBuilder();
      }
      out.append(text, runStart, pos);
      pos++;
      if (pos >= text.length()) {
        throw error("unterminated string");
      }
      char e = text.charAt(pos++);
      switch (e) {
        case '"' -> out.append('"');
        case '\\' -> out.append('\\');
        case '/' -> out.append('/');
        case 'b' -> out.append('\b');
        case 'f' -> out.append('\f');
        case 'n' -> out.append('\n');
        case 'r' -> out.append('\r');
        case 't' -> out.append('\t');
        case 'u' -> out.append(hex4());
        default -> {
          pos--;
          throw error("invalid escape '\\" + e + "'");
        }
      }
      runStart = pos;
    }
  }

  private char hex4() {
    if (pos + 4 > text.length()) {
      throw error("truncated \\u escape");
    }
    int value = 0;
    for (int i = 0; i < 4; i++) {
      char h = text.charAt(pos + i);
      int digit = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (digit < 0) {
        throw error("invalid \\u escape");
      }
      value = value * 16 + digit;
    }
    pos += 4;
    return (char) value;
  }

  private Object number() {
    int start = pos;
    if (peek() == '-') {
      pos++;
    }
    if (peek() == '0') {
      pos++;
    } else if (isDigit(peek())) {
      while (isDigit(peek())) {
        pos++;
      }
    } else {
      throw error("invalid number");
    }
    boolean integral = true;
    if (peek() == '.') {
      integral = false;
      pos++;
      if (!isDigit(peek())) {
        throw error("invalid number: digits expected after '.'");
      }
      while (isDigit(peek())) {
        pos++;
      }
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      pos++;
      if (peek() == '+' || peek() == '-') {
        pos++;
      }
      if (!isDigit(peek())) {
        throw error("invalid number: digits expected in the exponent");
      }
      while (isDigit(peek())) {
        pos++;
      }
    }
    String digits = text.substring(start, pos);
    if (integral) {
      try {
        return Long.parseLong(digits);
      } catch (NumberFormatException tooLarge) {
        return Double.parseDouble(digits);
      }
    }
    return Double.parseDouble(digits);
  }

  private Object literal(String word, Object value) {
    if (!text.startsWith(word, pos)) {
      throw error("unexpected character '" + text.charAt(pos) + "'");
    }
    pos += word.length();
    return value;
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  /** The character at the position, or NUL at the end. */
  private char peek() {
    return pos < text.length() ? text.charAt(pos) : '\0';
  }

  private void expect(char c) {
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private void skipWhitespace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return;
      }
      pos++;
    }
  }

  private IpamException error(String what) {
    int line = 1;
    int column = 1;
    for (int i = 0; i < pos && i < text.length(); i++) {
      if (text.charAt(i) == '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    return new IpamException(ErrorCode.DECODE_FAILURE,
        "invalid JSON: " + what + " at line " + line + " column " + column);
  }
}
