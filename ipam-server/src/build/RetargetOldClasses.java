import java.io.IOException;
import java.io.OutputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;

/**
 * Rewrites a jar's class files of Java 5 and older (class version below 50) as version 52 with
 * stack map frames, in place, so that a JDK 25 AOT cache can hold them: the cache leaves such
 * classes out, and a JVM then loads them from the jar and verifies them with the old verifier at
 * every start. picocli is compiled for Java 5; the 176 of its classes that jipamctl and jipamd
 * load cost about 0.08 s of CPU per start that way (mean CPU of jipamd from start to ready and a
 * clean stop: 1.01 s with the jar as it is, 0.92 s rewritten; of a jipamctl command: 0.99 and
 * 0.91 s; docs/service.md).
 *
 * <p>Only the version and the frames change: every method's code is re-emitted as it is, its
 * frames computed by {@code java.lang.classfile} (which resolves the class hierarchy from the JDK
 * and the jar itself), and every rewritten class must pass the type-checking verifier
 * ({@link ClassFile#verify}) before the jar is replaced; otherwise nothing is written and the
 * program exits 1. A jar without old classes is left untouched (so a second run changes nothing);
 * a signed jar is left as it is (rewriting would break its signature). The rewritten jar carries
 * {@code META-INF/JIPAM-RETARGETED.txt} saying what was changed, as the library's licence asks of
 * modified files.
 *
 * <p>Usage: {@code java RetargetOldClasses.java JAR...} on JDK 24 or later (java.lang.classfile).
 * Run by retarget-old-classes.sh, which picks that JDK.
 */
public final class RetargetOldClasses {
  static final int OLDEST_KEPT = 50;
  static final int TARGET = 52;
  static final String NOTICE = "META-INF/JIPAM-RETARGETED.txt";

  public static void main(String[] args) throws IOException {
    int failed = 0;
    for (String arg : args) {
      failed += retarget(Path.of(arg)) ? 0 : 1;
    }
    System.exit(failed == 0 ? 0 : 1);
  }

  /** Rewrites {@code jar} in place when it holds old classes; false when that failed. */
  static boolean retarget(Path jar) throws IOException {
    List<JarEntry> entries;
    try (JarFile in = new JarFile(jar.toFile())) {
      entries = Collections.list(in.entries());
      if (entries.stream().anyMatch(e -> e.getName().startsWith("META-INF/") && e.getName().endsWith(".SF"))) {
        System.out.println(jar + ": signed, left as it is");
        return true;
      }
      ClassFile reader = ClassFile.of();
      if (entries.stream().filter(RetargetOldClasses::isClass).noneMatch(e -> isOld(reader, read(in, e)))) {
        return true;
      }
      Path tmp = jar.resolveSibling(jar.getFileName() + ".retarget.tmp");
      try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()},
          ClassLoader.getPlatformClassLoader())) {
        ClassFile writer = ClassFile.of(ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
            ClassFile.ClassHierarchyResolverOption.of(ClassHierarchyResolver.defaultResolver()
                .orElse(ClassHierarchyResolver.ofResourceParsing(loader))));
        List<String> errors = new ArrayList<>();
        int rewritten = 0;
        try (OutputStream file = Files.newOutputStream(tmp); JarOutputStream out = new JarOutputStream(file)) {
          for (JarEntry e : entries) {
            byte[] bytes = read(in, e);
            if (isClass(e) && isOld(reader, bytes)) {
              bytes = writer.transformClass(writer.parse(bytes),
                  ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
                      .andThen(ClassTransform.endHandler(b -> b.withVersion(TARGET, 0))));
              for (VerifyError v : writer.verify(bytes)) {
                errors.add(e.getName() + ": " + v.getMessage());
              }
              rewritten++;
            }
            JarEntry copy = new JarEntry(e.getName());
            copy.setTime(e.getTime());
            out.putNextEntry(copy);
            out.write(bytes);
            out.closeEntry();
          }
          JarEntry notice = new JarEntry(NOTICE);
          notice.setTime(entries.stream().mapToLong(JarEntry::getTime).max().orElse(0)); // the same jar every build
          out.putNextEntry(notice);
          out.write(("The class files of this jar that were compiled for Java 5 or older (class version below "
              + OLDEST_KEPT + ") were rewritten by jipam's build as class version " + TARGET + " with stack map "
              + "frames computed by java.lang.classfile, so that an AOT cache can hold them. Nothing else was "
              + "changed.\n").getBytes(StandardCharsets.UTF_8));
          out.closeEntry();
        }
        if (!errors.isEmpty()) {
          Files.delete(tmp);
          System.err.println(jar + ": not rewritten: " + errors.size() + " classes fail verification, first: "
              + errors.get(0));
          return false;
        }
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println(jar + ": " + rewritten + " classes rewritten as class version " + TARGET);
        return true;
      } catch (IllegalArgumentException e) {
        Files.deleteIfExists(tmp);
        System.err.println(jar + ": not rewritten: " + e.getMessage());
        return false;
      }
    }
  }

  static boolean isClass(JarEntry e) {
    return e.getName().endsWith(".class") && !e.getName().startsWith("META-INF/");
  }

  static boolean isOld(ClassFile reader, byte[] bytes) {
    return reader.parse(bytes).majorVersion() < OLDEST_KEPT;
  }

  static byte[] read(JarFile jar, JarEntry e) {
    try (var in = jar.getInputStream(e)) {
      return in.readAllBytes();
    } catch (IOException x) {
      throw new java.io.UncheckedIOException(x);
    }
  }
}
