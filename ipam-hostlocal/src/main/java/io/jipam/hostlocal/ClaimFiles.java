package io.jipam.hostlocal;

import io.jipam.core.net.IpAddress;
import io.jipam.core.store.Allocation;
import io.jipam.core.store.Attachment;
import io.jipam.core.store.Claim;
import io.jipam.core.store.PodRef;
import io.jipam.core.store.spi.PoolState;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A pool's claims on disk (holds, reservations, cool-downs; see {@link
 * io.jipam.core.store.AddressPolicy}): the claims file {@code .jipam/NET/claims} lists them, and
 * each claimed address that no attachment holds has a <em>marker</em> as its address file ({@link
 * AddressFileText#CLAIM_MARK}), so that host-local on the same data dir never hands it out.
 *
 * <h2>Format</h2>
 * <pre>
 * jipam-hostlocal-claims 1
 * KIND  ADDRESS  POD_NS  POD_NAME  UNTIL  RELEASED_CID  RELEASED_IFNAME
 * </pre>
 * tab-separated, KIND {@code hold}, {@code reservation} or {@code cooling}; UNTIL {@code
 * EPOCHSECOND.NANO} or {@code -}; the releasing attachment {@code -} for none; pods and the
 * ifname escaped as in the index. Replaced whole (temp + rename) by every change; small (claims
 * are few, and a pool with none has no file, which the stamp's claim count says without a read).
 *
 * <h2>Order, and what a crash leaves</h2>
 * A call that changes claims writes the claims file first, then creates or removes markers, then
 * the stamp. A process killed in between leaves no stamp, so the next call rebuilds, and the
 * rebuild reconciles ({@link #reconcile}): a marker without a claim is removed (the claim ended),
 * a claim of an address without a file gets its marker back (it was being made), a hold or
 * cool-down of an address an attachment holds is dropped (the allocation is newer). Markers and
 * the claims file therefore never disagree after a rebuild, and no address is ever free to
 * host-local while jipam counts it claimed.
 */
final class ClaimFiles {
  static final String MAGIC = "jipam-hostlocal-claims 1";

  private ClaimFiles() {}

  /** The claims the file lists, in file order; empty when there is none or it is unreadable. */
  static List<Claim> read(PoolDir d) throws IOException {
    String text;
    try {
      text = new String(Files.readAllBytes(d.claimsFile), StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
    List<Claim> out = new ArrayList<>();
    String[] lines = text.split("\n");
    if (lines.length == 0 || !lines[0].equals(MAGIC)) {
      System.err.println("jipam: " + d.claimsFile + " is not a claims file: its claims are dropped");
      return out;
    }
    for (int i = 1; i < lines.length; i++) {
      try {
        out.add(parse(lines[i]));
      } catch (RuntimeException e) {
        System.err.println("jipam: " + d.claimsFile + " line " + (i + 1) + " is unreadable, dropped: " + e.getMessage());
      }
    }
    return out;
  }

  /** Replaces the claims file with the state's claims (temp + rename); deletes it when none. */
  static void write(PoolDir d, PoolState st) throws IOException {
    List<Claim> claims = st.storedClaims();
    if (claims.isEmpty()) {
      Files.deleteIfExists(d.claimsFile);
      return;
    }
    StringBuilder b = new StringBuilder(64 + 96 * claims.size()).append(MAGIC).append('\n');
    for (Claim c : claims) {
      b.append(c.kind().name().toLowerCase(java.util.Locale.ROOT)).append('\t').append(c.address()).append('\t')
          .append(NameEscaping.escapeField(c.pod().namespace())).append('\t')
          .append(NameEscaping.escapeField(c.pod().name())).append('\t')
          .append(c.until() == null ? "-" : c.until().getEpochSecond() + "." + c.until().getNano()).append('\t')
          .append(c.releasedBy() == null ? "-" : c.releasedBy().containerId()).append('\t')
          .append(c.releasedBy() == null ? "-" : NameEscaping.escapeName(c.releasedBy().ifname())).append('\n');
    }
    Files.deleteIfExists(d.claimsTemp);
    d.writeNew(d.claimsTemp, b.toString().getBytes(StandardCharsets.UTF_8));
    Files.move(d.claimsTemp, d.claimsFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static Claim parse(String line) {
    String[] f = line.split("\t", -1);
    if (f.length != 7) {
      throw new IllegalArgumentException(f.length + " fields");
    }
    Claim.Kind kind = Claim.Kind.valueOf(f[0].toUpperCase(java.util.Locale.ROOT));
    IpAddress address = IpAddress.parse(f[1]);
    PodRef pod = new PodRef(NameEscaping.unescapeField(f[2]), NameEscaping.unescapeField(f[3]));
    Instant until = null;
    if (!f[4].equals("-")) {
      int dot = f[4].indexOf('.');
      until = Instant.ofEpochSecond(Long.parseLong(f[4].substring(0, dot)), Long.parseLong(f[4].substring(dot + 1)));
    }
    Attachment releasedBy = f[5].equals("-") ? null : new Attachment(f[5], NameEscaping.unescapeName(f[6]));
    return new Claim(address, kind, pod, until, releasedBy);
  }

  /** The claimed addresses no attachment holds: those that have (or must have) a marker. */
  static Set<IpAddress> marked(PoolState st) {
    if (st.claimCount() == 0) {
      return Set.of();
    }
    Set<IpAddress> out = new HashSet<>();
    for (Claim c : st.storedClaims()) {
      if (st.holderOf(c.address()) == null) {
        out.add(c.address());
      }
    }
    return out;
  }

  /**
   * Persists the claims after a call changed the state: the claims file, then the markers. {@code
   * before} is {@link #marked} before the call. An address that gained a claim and still has its
   * holder's file (a release) gets the marker over it; a free one gets a new marker; one whose
   * claim ended loses its marker unless an attachment holds it now (the caller wrote its file).
   * Addresses the call released without a claim are the caller's to delete.
   *
   * @return false when a marker could not be created because a file appeared (host-local took
   *     the address meanwhile): the caller rebuilds
   */
  static boolean persist(PoolSession h, PoolState st, Set<IpAddress> before, Set<IpAddress> released)
      throws IOException {
    boolean changed = st.claimsChanged();
    if (!changed && (released.isEmpty() || st.claimCount() == 0)) {
      return true;
    }
    h.dropStamp();
    if (changed) {
      write(h.dir, st);
    }
    Set<IpAddress> after = marked(st);
    for (IpAddress a : after) {
      if (before.contains(a)) {
        continue;
      }
      if (released.contains(a)) {
        h.dir.replaceAddressFile(a, AddressFileText.CLAIM_MARK);
      } else if (!h.dir.createMarker(a)) {
        return false;
      }
    }
    for (IpAddress a : before) {
      if (!after.contains(a) && st.holderOf(a) == null) {
        h.dir.deleteMarker(a);
      }
    }
    return true;
  }

  /**
   * Loads the claims file into a state rebuilt from the address files and makes files and claims
   * agree (see the class comment); {@code markers} are the addresses whose file is a marker.
   */
  static void reconcile(PoolSession h, PoolState st, Set<IpAddress> markers) throws IOException {
    List<Claim> listed = read(h.dir);
    boolean dropped = false;
    for (Claim c : listed) {
      dropped |= !st.loadClaim(c);
    }
    st.claimsChanged(); // loading is not a change
    Set<IpAddress> wanted = marked(st);
    for (IpAddress a : wanted) {
      if (!markers.contains(a) && !h.dir.createMarker(a)) {
        Attachment holder = h.dir.readHolder(a);
        if (!AddressFileText.CLAIMED.equals(holder)) {
          System.err.println("jipam: " + h.dir.addressFile(a) + " appeared while its claim was restored: "
              + holder + " holds it");
        }
      }
    }
    for (IpAddress a : markers) {
      if (!wanted.contains(a)) {
        h.dir.deleteMarker(a); // its claim ended before a crash removed the marker
      }
    }
    if (dropped) {
      write(h.dir, st);
    }
  }

  /** The state's claims loaded from the file (a state read from the index or the cache misses them). */
  static void load(PoolDir d, PoolState st) throws IOException {
    for (Claim c : read(d)) {
      st.loadClaim(c);
    }
    st.claimsChanged();
  }

  /**
   * The files of released allocations: the claims first (a released address that became a hold
   * or a cool-down, or stays reserved, gets its marker over the holder's file), then the address
   * files of the rest deleted. {@code st} null: the one-shot path, no claims.
   */
  static void releaseFiles(PoolSession h, PoolState st, Set<IpAddress> marked, List<Allocation> released)
      throws IOException {
    Set<IpAddress> addresses = new HashSet<>();
    for (Allocation a : released) {
      addresses.add(a.address());
    }
    if (st != null && !persist(h, st, marked, addresses)) {
      throw PoolSession.contended(st.pool()); // cannot happen: only new markers of free addresses fail
    }
    for (Allocation a : released) {
      if (st == null || st.claimOf(a.address()) == null) {
        h.dir.deleteAddressFile(a.address());
      }
    }
  }
}
