import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Copies jars into a folder without their module descriptors, so that jdeps reads them as the
 * class path the launchers give them. Some jars (vertx-grpc-common) declare modules whose
 * dependencies are plain jars without a module name (protobuf-java); jdeps cannot resolve such a
 * module graph, while on the class path those jars run fine.
 *
 * <p>Usage: {@code java ClassPathCopy.java TARGET_DIR JAR...}; the copies are numbered, since
 * jars of the same name live in different sub-folders of lib/.
 */
public final class ClassPathCopy {
  public static void main(String[] args) throws IOException {
    Path target = Path.of(args[0]);
    Files.createDirectories(target);
    for (int i = 1; i < args.length; i++) {
      Path copy = target.resolve(i + "-" + Path.of(args[i]).getFileName());
      Files.copy(Path.of(args[i]), copy);
      try (FileSystem jar = FileSystems.newFileSystem(URI.create("jar:" + copy.toUri()), Map.of())) {
        Files.deleteIfExists(jar.getPath("module-info.class"));
        Path versions = jar.getPath("META-INF/versions");
        if (Files.isDirectory(versions)) {
          try (var dirs = Files.list(versions)) {
            for (Path dir : (Iterable<Path>) dirs::iterator) {
              Files.deleteIfExists(dir.resolve("module-info.class"));
            }
          }
        }
      }
    }
  }
}
