package io.jipam.hostlocal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;

/**
 * Coverage-guided fuzzing (Jazzer) of the file store's parsers of what it finds on disk: address
 * files (host-local's, any bytes), jipam's attachment records, stamps and index files. Contracts:
 * an address file always yields a holder (a mark for unreadable content), never an exception; a
 * record parses or is null (then rebuilt); a stamp or index either parses or throws a {@link
 * RuntimeException}, which their callers turn into "rebuild the cache". An {@link Error} (stack
 * overflow, out of memory) or a hang is a finding.
 *
 * <p>The normal test run replays {@code src/test/resources/io/jipam/hostlocal/HostLocalFuzzTestInputs/};
 * {@code JAZZER_FUZZ=1} fuzzes one method at a time.
 */
class HostLocalFuzzTest {
  private static final Attachment ATT = new Attachment("c1", "eth0");

  @FuzzTest(maxDuration = "30s")
  void parseHolder_anyBytes_holderNeverException(byte[] data) {
    Attachment holder = AddressFileText.parseHolder(data);
    assertNotNull(holder);
    // a claim's marker reads as the CLAIMED sentinel, which no file names otherwise (its interface
    // name is no decoded one); it is written as the marker, never through content()
    assertEquals(java.util.Arrays.equals(data, AddressFileText.CLAIM_MARK), AddressFileText.CLAIMED.equals(holder),
        "CLAIMED exactly for the claim marker");
    if (holder != AddressFileText.UNREADABLE && holder != AddressFileText.CLAIMED
        && !AddressFileText.LEGACY_IFNAME.equals(holder.ifname())) {
      assertEquals(holder, AddressFileText.parseHolder(AddressFileText.content(holder)), "the holder written back reads the same");
    }
  }

  @FuzzTest(maxDuration = "30s")
  void attachmentRecordParse_anyText_nullOrRecordThatRoundTrips(FuzzedDataProvider data) {
    boolean prefixed = data.consumeBoolean();
    String text = (prefixed ? "c1\teth0\n" : "") + data.consumeRemainingAsString();
    AttachmentRecord record = AttachmentRecord.parse(text, ATT); // an exception escapes and fails
    if (record != null) {
      List<Allocation> held = new ArrayList<>();
      for (int i = 0; i < record.addresses.length; i++) {
        held.add(new Allocation(record.addresses[i], -1, ATT, record.pods[i], record.origins[i]));
      }
      AttachmentRecord again = AttachmentRecord.parse(AttachmentRecord.text(ATT, held), ATT);
      assertNotNull(again, "a parsed record written back parses");
      assertArrayEquals(record.addresses, again.addresses, "addresses round-trip");
      assertArrayEquals(record.pods, again.pods, "pods round-trip");
      assertArrayEquals(record.origins, again.origins, "origins round-trip");
    }
  }

  @FuzzTest(maxDuration = "30s")
  void stampParse_anyText_stampOrRuntimeException(FuzzedDataProvider data) {
    String text = data.consumeRemainingAsString();
    Stamp stamp;
    try {
      stamp = Stamp.parse(text);
    } catch (RuntimeException e) {
      return; // the caller (Stamp.read) treats any RuntimeException as "no stamp": rebuild
    }
    assertTrue(text.endsWith("\n"), "only a text with its final newline is a stamp: " + text);
    assertEquals(stamp.text(), Stamp.parse(stamp.text() + "\n").text(), "a parsed stamp round-trips");
  }

  @FuzzTest(maxDuration = "30s")
  void indexParseAll_anyText_allocationsThatRoundTripOrRuntimeException(byte[] data) {
    String text = "jipam-hostlocal-index 5\n" + new String(data, StandardCharsets.ISO_8859_1);
    Collection<Allocation> parsed;
    try {
      parsed = IndexFile.parseAll(new IndexFile.Raw(text, "", 0));
    } catch (RuntimeException e) {
      return; // the caller (HostLocalStore's load) treats any RuntimeException as a corrupt index: rebuild
    }
    // what a snapshot writes of them reads back as the same allocations (the file holds UTF-8,
    // which the store reads as ISO-8859-1 text)
    byte[] written = IndexFile.snapshotBody(parsed).getBytes(StandardCharsets.UTF_8);
    Collection<Allocation> again = IndexFile.parseAll(
        new IndexFile.Raw(new String(written, StandardCharsets.ISO_8859_1), "", 0));
    assertEquals(new HashSet<>(parsed), new HashSet<>(again), "a snapshot of the parsed index reads the same");
  }
}
