package io.jipam.core.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.jipam.core.ErrorCode;
import io.jipam.core.IpamException;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Our JSON reader and writer, checked against jackson-core as the oracle. */
class JsonReaderTest {
  private static final JsonFactory JACKSON = new JsonFactory();

  @Property(tries = 300)
  void parse_randomDocumentWrittenByJackson_sameValuesAsJackson(@ForAll long seed) throws IOException {
    Object value = randomValue(new SplittableRandom(seed), 0);
    StringWriter text = new StringWriter();
    try (JsonGenerator g = JACKSON.createGenerator(text)) {
      if (seed % 2 == 0) {
        g.useDefaultPrettyPrinter();
      }
      write(g, value);
    }
    byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
    assertEquals(jackson(bytes), JsonReader.parse(bytes), text::toString);
  }

  @Property(tries = 300)
  void writer_randomStrings_jacksonReadsThemBack(@ForAll String s) throws IOException {
    JsonWriter w = new JsonWriter();
    w.startObject().field("s", s).startArray("a").value(s).endArray().field("n", -42L).endObject();
    byte[] bytes = w.toBytes();
    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("s", s);
    expected.put("a", List.of(s));
    expected.put("n", -42L);
    assertEquals(expected, jackson(bytes));
    assertEquals(expected, JsonReader.parse(bytes));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'x'", "01", "1.", ".5",
      "-", "1e", "tru", "nul", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"abc", "[1 2]", "{\"a\":1}x", "\"a\u0001b\"",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"})
  void parse_invalidJson_decodeFailureWithPosition(String text) {
    IpamException e = assertThrows(IpamException.class, () -> JsonReader.parse(text.getBytes(StandardCharsets.UTF_8)));
    assertEquals(ErrorCode.DECODE_FAILURE, e.code());
    assertTrue(e.getMessage().contains("JSON"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\n  \"a\": [1, 2.5, -3e2, true, false, null, \"\\u00e9\\ud83d\\ude00\\n\\\"\"]\n}",
      "12345678901234567890", "-0", "0.000001", "[]", "{}", "\"\"", "{\"dup\":1,\"dup\":2}"})
  void parse_validEdgeCases_matchesJackson(String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    assertEquals(jackson(bytes), JsonReader.parse(bytes));
  }

  private static Object randomValue(SplittableRandom r, int depth) {
    int kind = depth > 4 ? r.nextInt(5) : r.nextInt(7);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return r.nextBoolean();
      case 2:
        return r.nextBoolean() ? (long) r.nextInt(-1000, 1000) : r.nextLong();
      case 3:
        return r.nextInt(-1_000_000, 1_000_000) / 64.0;
      case 4: {
        StringBuilder s = new StringBuilder();
        int n = r.nextInt(12);
        for (int i = 0; i < n; i++) {
          int pick = r.nextInt(10);
          s.append(pick == 0 ? (char) r.nextInt(0, 0x20) : pick == 1 ? '"' : pick == 2 ? '\\'
              : pick == 3 ? (char) r.nextInt(0x80, 0xD7FF) : (char) r.nextInt('a', 'z' + 1));
        }
        return s.toString();
      }
      case 5: {
        List<Object> list = new ArrayList<>();
        int n = r.nextInt(5);
        for (int i = 0; i < n; i++) {
          list.add(randomValue(r, depth + 1));
        }
        return list;
      }
      default: {
        Map<String, Object> map = new LinkedHashMap<>();
        int n = r.nextInt(5);
        for (int i = 0; i < n; i++) {
          map.put("k" + r.nextInt(100), randomValue(r, depth + 1));
        }
        return map;
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static void write(JsonGenerator g, Object v) throws IOException {
    if (v == null) {
      g.writeNull();
    } else if (v instanceof Boolean b) {
      g.writeBoolean(b);
    } else if (v instanceof Long l) {
      g.writeNumber(l);
    } else if (v instanceof Double d) {
      g.writeNumber(d);
    } else if (v instanceof String s) {
      g.writeString(s);
    } else if (v instanceof List<?> list) {
      g.writeStartArray();
      for (Object o : list) {
        write(g, o);
      }
      g.writeEndArray();
    } else {
      g.writeStartObject();
      for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
        g.writeFieldName(e.getKey());
        write(g, e.getValue());
      }
      g.writeEndObject();
    }
  }

  /** The oracle: jackson's streaming parser into the same plain values. */
  private static Object jackson(byte[] bytes) throws IOException {
    try (JsonParser p = JACKSON.createParser(bytes)) {
      return read(p, p.nextToken());
    }
  }

  private static Object read(JsonParser p, JsonToken t) throws IOException {
    switch (t) {
      case START_OBJECT: {
        Map<String, Object> map = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          map.put(name, read(p, p.nextToken()));
        }
        return map;
      }
      case START_ARRAY: {
        List<Object> list = new ArrayList<>();
        JsonToken n;
        while ((n = p.nextToken()) != JsonToken.END_ARRAY) {
          list.add(read(p, n));
        }
        return list;
      }
      case VALUE_STRING:
        return p.getText();
      case VALUE_NUMBER_INT:
        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
          return p.getDoubleValue();
        }
        return p.getLongValue(); // not a ?: with the double above, which would widen it
      case VALUE_NUMBER_FLOAT:
        return p.getDoubleValue();
      case VALUE_TRUE:
        return true;
      case VALUE_FALSE:
        return false;
      default:
        return null;
    }
  }
}
