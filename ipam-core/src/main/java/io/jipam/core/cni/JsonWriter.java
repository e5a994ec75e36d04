package io.jipam.core.cni;

import java.nio.charset.StandardCharsets;

/**
 * Writes one JSON document, indented by two spaces, as the plugin prints it. Only what CNI output
 * needs: objects, arrays, strings and integers. Strings are escaped per RFC 8259 ({@code "},
 * {@code \}, control characters). Not thread-safe; one instance per document.
 */
final class JsonWriter {
  private final StringBuilder out = new StringBuilder(256);
  private int depth;
  /** Whether the current container has an element already (needs a comma before the next). */
  private boolean[] hasElement = new boolean[16];

  JsonWriter startObject() {
    beforeValue();
    return open('{');
  }

  JsonWriter endObject() {
    return close('}');
  }

  JsonWriter startObject(String name) {
    field(name);
    return open('{');
  }

  JsonWriter startArray(String name) {
    field(name);
    return open('[');
  }

  JsonWriter endArray() {
    return close(']');
  }

  JsonWriter field(String name, String value) {
    field(name);
    quote(value);
    return this;
  }

  JsonWriter field(String name, long value) {
    field(name);
    out.append(value);
    return this;
  }

  JsonWriter value(String value) {
    beforeValue();
    quote(value);
    return this;
  }

  byte[] toBytes() {
    return out.append('\n').toString().getBytes(StandardCharsets.UTF_8);
  }

  private void field(String name) {
    beforeValue();
    quote(name);
    out.append(": ");
  }

  private JsonWriter open(char bracket) {
    out.append(bracket);
    depth++;
    if (depth == hasElement.length) {
      hasElement = java.util.Arrays.copyOf(hasElement, depth * 2);
    }
    hasElement[depth] = false;
    return this;
  }

  private JsonWriter close(char bracket) {
    boolean any = hasElement[depth];
    depth--;
    if (any) {
      newline();
    }
    out.append(bracket);
    return this;
  }

  private void beforeValue() {
    if (depth == 0) {
      return;
    }
    if (hasElement[depth]) {
      out.append(',');
    }
    hasElement[depth] = true;
    newline();
  }

  private void newline() {
    out.append('\n');
    for (int i = 0; i < depth; i++) {
      out.append("  ");
    }
  }

  private void quote(String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append("\\u00");
            out.append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 0xF, 16));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
