package io.jipam.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * RemoteStore's public API is domain types only: no public constructor, method or field of it or
 * of its public nested types takes or gives a {@code jipam.v1} message or a protobuf type (type
 * arguments included), so jipamd and jipamctl build on the store, not on the wire.
 */
class RemoteStoreSurfaceTest {
  static boolean wire(Type type) {
    if (type instanceof ParameterizedType p) {
      return wire(p.getRawType()) || List.of(p.getActualTypeArguments()).stream().anyMatch(RemoteStoreSurfaceTest::wire);
    }
    if (type instanceof Class<?> c) {
      Class<?> t = c;
      while (t.isArray()) {
        t = t.getComponentType();
      }
      String name = t.getName();
      return name.startsWith("io.jipam.api.") || name.startsWith("com.google.protobuf.");
    }
    return false;
  }

  static List<String> wireUses(Class<?> type) {
    List<String> out = new ArrayList<>();
    List<Executable> members = new ArrayList<>(List.of(type.getConstructors()));
    members.addAll(List.of(type.getMethods()));
    for (Executable m : members) {
      List<Type> types = new ArrayList<>(List.of(m.getGenericParameterTypes()));
      if (m instanceof Method method) {
        types.add(method.getGenericReturnType());
      }
      if (types.stream().anyMatch(RemoteStoreSurfaceTest::wire)) {
        out.add(type.getSimpleName() + "." + m.getName());
      }
    }
    for (Field f : type.getFields()) {
      if (wire(f.getGenericType())) {
        out.add(type.getSimpleName() + "." + f.getName());
      }
    }
    return out;
  }

  @Test
  void publicApi_remoteStoreAndItsNestedTypes_noWireTypes() {
    Set<String> checked = new TreeSet<>();
    List<String> found = new ArrayList<>(wireUses(RemoteStore.class));
    checked.add(RemoteStore.class.getSimpleName());
    for (Class<?> nested : RemoteStore.class.getDeclaredClasses()) {
      if (Modifier.isPublic(nested.getModifiers())) {
        found.addAll(wireUses(nested));
        checked.add(nested.getSimpleName());
      }
    }
    assertTrue(found.isEmpty(), "wire types in RemoteStore's public API: " + found);
    assertEquals(Set.of("RemoteStore", "Target", "Tls"), checked, "the public types this test covers");
  }

  @Test
  void wire_protobufTypes_recognised() throws Exception {
    assertTrue(wire(io.jipam.api.v1.ListRequest.class));
    assertTrue(wire(RemoteStoreSurfaceTest.class.getDeclaredMethod("sample").getGenericReturnType()),
        "a type argument counts");
  }

  static List<io.jipam.api.v1.Allocation> sample() {
    return List.of();
  }
}
