package io.jipam.plugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property (issue 7): random byte strings as interface names and container IDs, valid for the
 * kernel or not, through ADD, CHECK and DEL of the real plugin against one shared data dir. Each
 * either round-trips exactly (its address file holds its bytes, distinct attachments get distinct
 * addresses, CHECK finds it, DEL frees exactly its own) or is refused with code 4; never any other
 * code. The reference host-local reads the result the same way: its DEL of an attachment jipam
 * added frees that attachment's file and no other. Seeded ({@code -Djipam.property.seed=N} to
 * replay); about a hundred plugin calls, some seconds.
 */
class HostileNamesPropertyIT {
  private static final int ATTACHMENTS = 36;
  /** Random draws go on past {@link #ATTACHMENTS} until this many of them are valid. */
  private static final int MIN_VALID = 10;
  /** Bytes a name is drawn from: the kernel's forbidden ones, UTF-8 pieces, bytes that are not UTF-8. */
  private static final int[] ALPHABET = {'a', 'b', 'e', 't', 'h', '0', '1', '_', '-', '.', '*', '%', '@', '?',
      '/', ':', ' ', '\t', '\n', 0x01, 0x7f, 0xa0, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xff, 0xfe, 0xed, 0xb0, 0x80, 0xc0};

  @TempDir Path tmp;

  /** Pieces of names the kernel accepts: ASCII, controls it allows, whole UTF-8 characters. */
  private static final String[] PIECES = {"a", "b", "0", "9", "*", "%", "@", "?", "-", "_", ".", "\u0001", "\u007f",
      "\u00e9", "\u20ac", "\ud83d\ude00", "\uFFFD", "eth", "net"};

  /** A name: raw random bytes (mostly invalid), or pieces (mostly valid), or pieces with one random byte. */
  static byte[] randomName(Random r) {
    int mode = r.nextInt(3);
    if (mode == 0) {
      return randomBytes(r, 17);
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    int pieces = 1 + r.nextInt(6);
    for (int i = 0; i < pieces; i++) {
      out.writeBytes(PIECES[r.nextInt(PIECES.length)].getBytes(StandardCharsets.UTF_8));
    }
    byte[] b = out.toByteArray();
    if (mode == 2 && b.length > 0) {
      b[r.nextInt(b.length)] = (byte) ALPHABET[r.nextInt(ALPHABET.length)];
    }
    return b;
  }

  static byte[] randomBytes(Random r, int maxLength) {
    byte[] b = new byte[r.nextInt(maxLength + 1)];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) ALPHABET[r.nextInt(ALPHABET.length)];
    }
    return b;
  }

  /** The rule the plugin must apply, written independently: the kernel's on bytes, and UTF-8. */
  static boolean validIfname(byte[] b) {
    if (b.length == 0 || b.length > 15 || Arrays.equals(b, new byte[] {'.'}) || Arrays.equals(b, new byte[] {'.', '.'})) {
      return false;
    }
    for (byte x : b) {
      int c = x & 0xff;
      if (c == '/' || c == ':' || c == ' ' || (c >= 9 && c <= 13) || c == 0xa0) {
        return false;
      }
    }
    return utf8(b);
  }

  static boolean utf8(byte[] b) {
    try {
      StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  static boolean validContainerId(byte[] b) {
    if (b.length == 0) {
      return false;
    }
    for (int i = 0; i < b.length; i++) {
      int c = b[i] & 0xff;
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
        return false;
      }
    }
    return true;
  }

  record Att(byte[] id, byte[] ifname) {
    String key() {
      return Arrays.toString(id) + "/" + Arrays.toString(ifname);
    }

    byte[] fileContent() {
      byte[] out = Arrays.copyOf(id, id.length + 2 + ifname.length);
      out[id.length] = '\r';
      out[id.length + 1] = '\n';
      System.arraycopy(ifname, 0, out, id.length + 2, ifname.length);
      return out;
    }

    @Override
    public String toString() {
      return HostileInputIT.octal(id) + "/" + HostileInputIT.octal(ifname);
    }
  }

  Map<String, byte[]> vars(String command, Att a) {
    Map<String, byte[]> v = new LinkedHashMap<>();
    v.put("CNI_COMMAND", command.getBytes(StandardCharsets.US_ASCII));
    v.put("CNI_CONTAINERID", a.id);
    v.put("CNI_IFNAME", a.ifname);
    v.put("CNI_NETNS", command.equals("DEL") ? new byte[0] : "/var/run/netns/p".getBytes(StandardCharsets.US_ASCII));
    v.put("CNI_PATH", "/opt/cni/bin".getBytes(StandardCharsets.US_ASCII));
    return v;
  }

  @Test
  void randomNames_roundTripExactlyOrRefusedWithCode4() throws Exception {
    assertTrue(Files.isExecutable(CniExec.JIPAM), CniExec.JIPAM + " is missing: build with ./mvnw package");
    long seed = Long.getLong("jipam.property.seed", System.nanoTime());
    Random r = new Random(seed);
    Path dataDir = tmp.resolve("data");
    String conf = ("{'cniVersion':'1.0.0','name':'prop','type':'bridge','ipam':{'type':'TYPE','dataDir':'"
        + dataDir + "','subnet':'198.18.50.0/24'}}").replace('\'', '"');
    String jipamConf = conf.replace("TYPE", "jipam");
    List<Att> atts = new ArrayList<>();
    // names that decode alike under a lossy charset, and the '*' of an old-format file
    atts.add(new Att(b("p1"), HostileInputIT.b("a", 0xff)));
    atts.add(new Att(b("p1"), HostileInputIT.b("a", 0xfe)));
    atts.add(new Att(b("p1"), HostileInputIT.b("a\uFFFD")));
    atts.add(new Att(b("p1"), b("*")));
    atts.add(new Att(b("p1"), b("eth0")));
    // random draws until there are enough of both kinds: a draw is valid about one time in four, so
    // a fixed count could leave too few valid names for the round trip to say much (one seed in
    // some hundreds did)
    int validDrawn = 0;
    while (atts.size() < ATTACHMENTS || validDrawn < MIN_VALID) {
      byte[] id = r.nextInt(3) == 0 ? randomBytes(r, 6) : b("c" + Long.toString(r.nextLong() & 0xffffff, 36));
      Att a = new Att(id, randomName(r));
      atts.add(a);
      if (validContainerId(a.id) && validIfname(a.ifname)) {
        validDrawn++;
      }
    }
    String context = "seed " + seed + " (replay with -Djipam.property.seed=" + seed + ")";
    Map<String, String> addressOf = new HashMap<>();
    Map<String, Att> live = new LinkedHashMap<>();
    for (Att a : atts) {
      boolean valid = validContainerId(a.id) && validIfname(a.ifname);
      HostileInputIT.Out out = HostileInputIT.call(vars("ADD", a), jipamConf.getBytes(StandardCharsets.UTF_8), "",
          CniExec.JIPAM.toString());
      if (!valid) {
        assertEquals(1, out.exit(), () -> a + " must be refused, " + context + "\n" + out);
        assertEquals(4L, out.json().get("code"), () -> a + ", " + context + "\n" + out);
        continue;
      }
      assertEquals(0, out.exit(), () -> a + " must be accepted, " + context + "\n" + out);
      String address = HostileInputIT.address(out);
      String ip = address.substring(0, address.indexOf('/'));
      if (live.containsKey(a.key())) {
        assertEquals(addressOf.get(a.key()), ip, () -> "a repeated ADD returns the same address, " + context);
        continue;
      }
      assertFalse(addressOf.containsValue(ip), () -> a + " got " + ip + " which another attachment holds, " + context);
      assertArrayEquals(a.fileContent(), Files.readAllBytes(dataDir.resolve("prop").resolve(ip)), () -> a + ", " + context);
      addressOf.put(a.key(), ip);
      live.put(a.key(), a);
    }
    assertTrue(live.size() >= MIN_VALID, () -> "too few valid names to say much: " + live.size() + ", " + context);
    for (Att a : live.values()) {
      HostileInputIT.Out check = HostileInputIT.call(vars("CHECK", a), jipamConf.getBytes(StandardCharsets.UTF_8), "",
          CniExec.JIPAM.toString());
      assertEquals(0, check.exit(), () -> a + ", " + context + "\n" + check);
    }
    // DEL every other one through jipam, a few through the reference host-local
    boolean hostLocal = Files.isExecutable(CniExec.HOST_LOCAL);
    assumeTrue(hostLocal || !CniExec.underCi(), "host-local is missing");
    List<Att> order = new ArrayList<>(live.values());
    Set<String> released = new HashSet<>();
    for (int i = 0; i < order.size(); i += 2) {
      Att a = order.get(i);
      boolean byHostLocal = hostLocal && i % 4 == 2;
      String plugin = byHostLocal ? CniExec.HOST_LOCAL.toString() : CniExec.JIPAM.toString();
      String c = byHostLocal ? conf.replace("TYPE", "host-local") : jipamConf;
      HostileInputIT.Out del = HostileInputIT.call(vars("DEL", a), c.getBytes(StandardCharsets.UTF_8), "", plugin);
      assertEquals(0, del.exit(), () -> (byHostLocal ? "host-local" : "jipam") + " DEL of " + a + ", " + context + "\n" + del);
      assertFalse(Files.exists(dataDir.resolve("prop").resolve(addressOf.get(a.key()))), () -> a + ", " + context);
      released.add(a.key());
      HostileInputIT.Out check = HostileInputIT.call(vars("CHECK", a), jipamConf.getBytes(StandardCharsets.UTF_8), "",
          CniExec.JIPAM.toString());
      assertEquals(3L, check.json().get("code"), () -> "after DEL, " + a + ", " + context + "\n" + check);
    }
    // what is left is exactly the attachments not released, each in its own file
    Set<String> files = new HashSet<>();
    try (Stream<Path> entries = Files.list(dataDir.resolve("prop"))) {
      for (Path p : entries.toList()) {
        String name = p.getFileName().toString();
        if (name.startsWith("198.18.50.")) {
          files.add(name);
        }
      }
    }
    Set<String> expected = new HashSet<>();
    for (Att a : live.values()) {
      if (!released.contains(a.key())) {
        expected.add(addressOf.get(a.key()));
        assertArrayEquals(a.fileContent(), Files.readAllBytes(dataDir.resolve("prop").resolve(addressOf.get(a.key()))));
      }
    }
    assertEquals(expected, files, context);
  }

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
