package io.jipam.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.AllocationOrigin;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.capability.ListPages;
import org.junit.jupiter.api.Test;

/** Why an allocation was given, as show and list print it; nothing when the store recorded none. */
class FormatsOriginTest {
  private static final Allocation OLD = new Allocation(IpAddress.parse("198.18.0.2"), 0, new Attachment("c1", "eth0"),
      new PodRef("db", "db-0"));

  @Test
  void jsonAndWhy_originRecordedOrNot_keyAndSuffixOnlyWhenRecorded() {
    assertFalse(Formats.json(new ListPages.Listed(OLD, ""), "net").containsKey("origin"), "old outputs stay as they were");
    assertEquals("", Formats.why(OLD));
    for (AllocationOrigin o : new AllocationOrigin[] {AllocationOrigin.FREE, AllocationOrigin.REQUESTED,
        AllocationOrigin.RESERVED, AllocationOrigin.STICKY, AllocationOrigin.COOLED}) {
      Allocation a = OLD.withOrigin(o);
      assertEquals(o.label(), Formats.json(new ListPages.Listed(a, "n1"), "net").getString("origin"));
      assertEquals("  why: " + o.label(), Formats.why(a));
    }
  }
}
