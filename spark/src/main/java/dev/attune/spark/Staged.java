package dev.attune.spark;

import dev.attune.error.ConfigurationException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.Deflater;
import java.util.zip.ZipOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.SparkFiles;

/**
 * A model folder or data file as the driver names it, and how an executor gets a local copy to
 * read: a local path read in place (a shared or replicated file system), a Hadoop URI ({@code
 * file:}, {@code hdfs:}, {@code s3a:}, any scheme with a FileSystem on the class path) copied
 * through Hadoop's FileSystem API once per JVM, or a local folder the driver shipped with the job
 * ({@link SparkContext#addArchive}: Spark's recursive {@code addFile} refuses local folders on a
 * cluster master) and each executor finds with {@link SparkFiles#get}.
 */
final class Staged implements Serializable {
    private static final long serialVersionUID = 1L;
    /** A URI scheme of two characters or more (so that a Windows drive letter is no scheme). */
    private static final Pattern SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]+:.*");
    /** Local copies made in this JVM, by location. */
    private static final Map<String, Path> COPIES = new ConcurrentHashMap<>();
    /** Archives this driver made of shipped folders, by application and folder. */
    private static final Map<String, String> SHIPPED = new ConcurrentHashMap<>();

    enum Kind { LOCAL, HADOOP, SHIPPED }

    private final String given;
    private final Kind kind;
    /** HADOOP: the driver's Hadoop configuration ({@code spark.hadoop.*}, credentials); SHIPPED: the archive's name. */
    private final byte[] hadoopConf;
    private final String shippedName;
    /** SHIPPED for a SQL session's jobs: the session's artifact folder under SparkFiles' root, else null. */
    private final String sessionScope;

    private Staged(String given, Kind kind, byte[] hadoopConf, String shippedName, String sessionScope) {
        this.given = given;
        this.kind = kind;
        this.hadoopConf = hadoopConf;
        this.shippedName = shippedName;
        this.sessionScope = sessionScope;
    }

    /** @return whether {@code location} is a URI with a scheme ({@code hdfs://...}, {@code file:/...}) rather than a path */
    static boolean isUri(String location) {
        return SCHEME.matcher(location).matches();
    }

    /**
     * @param location a local path or a Hadoop URI
     * @return the location as the tune and predict commands record it: a path made absolute, a URI as given
     */
    static String normalise(String location) {
        return isUri(location) ? location : Path.of(location).toAbsolutePath().normalize().toString();
    }

    /**
     * On the driver: checks that the location exists and says how executors will read it.
     *
     * @param sc the Spark context
     * @param location a local path or a Hadoop URI
     * @param what what it is, for messages ("model folder", "training data")
     * @param ship whether to ship a local folder with the job instead of having executors read its path
     * @return the staged location
     * @throws ConfigurationException naming the location when the driver cannot find it
     */
    static Staged onDriver(SparkContext sc, String location, String what, boolean ship) {
        return onDriver(sc, null, location, what, ship);
    }

    /**
     * {@link #onDriver(SparkContext, String, String, boolean)} for the jobs of a SQL session: Spark 4
     * isolates each session's artifacts (spark.sql.artifact.isolation.enabled), so a shipped folder
     * is added under the session's artifact state, where its Dataset jobs' tasks (and their {@link
     * SparkFiles#get}) find it.
     *
     * @param sc the Spark context
     * @param session the session whose Dataset jobs read it, null for plain RDD jobs
     * @param location a local path or a Hadoop URI
     * @param what what it is, for messages
     * @param ship whether to ship a local folder with the job
     * @return the staged location
     */
    static Staged onDriver(SparkContext sc, org.apache.spark.sql.SparkSession session, String location, String what,
            boolean ship) {
        if (isUri(location)) {
            if (ship) {
                throw new ConfigurationException(location + ": only a local " + what + " is shipped with the job;"
                        + " executors read a URI through Hadoop's FileSystem themselves (drop the ship option)");
            }
            Configuration conf = sc.hadoopConfiguration();
            try {
                org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(URI.create(location));
                if (!p.getFileSystem(conf).exists(p)) {
                    throw new ConfigurationException(location + ": no such " + what + " (looked up from the driver "
                            + AttuneSpark.executorId() + " through Hadoop's FileSystem)");
                }
            } catch (IOException | RuntimeException e) {
                if (e instanceof ConfigurationException c) {
                    throw c;
                }
                throw new ConfigurationException(location + ": the driver cannot open this " + what + " through Hadoop's"
                        + " FileSystem (" + e.getMessage() + "); a scheme needs its FileSystem on the class path (s3a:"
                        + " hadoop-aws) and its settings as spark.hadoop.* options", e);
            }
            return new Staged(location, Kind.HADOOP, serialise(conf), null, null);
        }
        Path path = Path.of(location).toAbsolutePath().normalize();
        if (!Files.exists(path)) {
            throw new ConfigurationException(path + ": no such " + what + " on the driver (" + AttuneSpark.executorId()
                    + ")");
        }
        if (!ship) {
            return new Staged(path.toString(), Kind.LOCAL, null, null, null);
        }
        if (!Files.isDirectory(path)) {
            throw new ConfigurationException(path + ": only a folder is shipped with the job; this " + what
                    + " is a file");
        }
        org.apache.spark.sql.classic.SparkSession classic = session instanceof org.apache.spark.sql.classic.SparkSession c
                ? c : null;
        String scope = classic == null ? "" : classic.artifactManager().state().uuid();
        String name = SHIPPED.computeIfAbsent(sc.applicationId() + "#" + scope + "#" + path, k -> {
            try {
                Path zip = Files.createTempDirectory("attune-ship").resolve(archiveName(path));
                zip(path, zip);
                zip.toFile().deleteOnExit();
                zip.getParent().toFile().deleteOnExit();
                // unpacked by every executor (and a local master's driver) into its SparkFiles folder
                if (classic == null) {
                    sc.addArchive(zip.toString());
                } else {
                    classic.artifactManager().withResources(new scala.runtime.AbstractFunction0<Object>() {
                        @Override
                        public Object apply() {
                            sc.addArchive(zip.toString());
                            return null;
                        }
                    });
                }
                return zip.getFileName().toString();
            } catch (IOException e) {
                throw new ConfigurationException(path + ": cannot pack this " + what + " to ship it: " + e.getMessage(), e);
            }
        });
        return new Staged(path.toString(), Kind.SHIPPED, null, name, classic == null ? null : scope);
    }

    static String archiveName(Path folder) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(folder.toString().getBytes(StandardCharsets.UTF_8));
            return "attune-" + folder.getFileName() + "-" + HexFormat.of().formatHex(h, 0, 6) + ".zip";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** @return the location as the driver gave it (a shipped folder: its driver path) */
    String given() {
        return given;
    }

    Kind kind() {
        return kind;
    }

    /** @return a key that names what this JVM reads */
    String key() {
        return kind + ":" + given;
    }

    /**
     * In the JVM that reads it (an executor's, or the driver's): its local path, copied first where
     * it is a URI.
     *
     * @param what what it is, for messages
     * @return the local path
     * @throws ConfigurationException naming the location and this JVM ({@code pid@host}) when it
     *     cannot be read here
     */
    Path local(String what) {
        switch (kind) {
            case LOCAL -> {
                Path p = Path.of(given);
                if (!Files.isReadable(p)) {
                    throw new ConfigurationException("executor " + AttuneSpark.executorId() + " cannot read the " + what
                            + " " + given + ": every executor must see it at this path (a shared file system), or give"
                            + " it as a Hadoop URI (hdfs:, s3a:) or ship it with the job (--spark-ship-model)");
                }
                return p;
            }
            case SHIPPED -> {
                Path p = Path.of(SparkFiles.get(shippedName));
                if (!Files.isDirectory(p) && sessionScope != null) {
                    // Spark 4 unpacks a session's archives into a folder named by the session under SparkFiles'
                    // root, while SparkFiles.get in a Dataset job's task looks in the root itself
                    p = Path.of(SparkFiles.getRootDirectory(), sessionScope, shippedName);
                }
                if (!Files.isDirectory(p)) {
                    throw new ConfigurationException("executor " + AttuneSpark.executorId() + " has no unpacked copy of"
                            + " the shipped " + what + " " + given + " (" + shippedName + " not in " + p.getParent() + ")");
                }
                return p;
            }
            default -> {
                return COPIES.computeIfAbsent(given, k -> copy(what));
            }
        }
    }

    private Path copy(String what) {
        org.apache.hadoop.fs.Path src = new org.apache.hadoop.fs.Path(URI.create(given));
        try {
            Configuration conf = deserialise(hadoopConf);
            FileSystem fs = src.getFileSystem(conf);
            Path root = SparkEnv.get() != null ? Path.of(SparkFiles.getRootDirectory())
                    : Path.of(System.getProperty("java.io.tmpdir"));
            String leaf = src.getName().isEmpty() ? "root" : src.getName();
            Path dir = Files.createTempDirectory(root, "attune-copy-");
            Path dst = dir.resolve(leaf);
            // the raw local file system: no .crc files beside the copy
            fs.copyToLocalFile(false, src, new org.apache.hadoop.fs.Path(dst.toUri()), true);
            return dst;
        } catch (IOException | RuntimeException e) {
            throw new ConfigurationException("executor " + AttuneSpark.executorId() + " cannot read the " + what + " "
                    + given + " through Hadoop's FileSystem: " + e.getMessage(), e);
        }
    }

    private static byte[] serialise(Configuration conf) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            conf.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static Configuration deserialise(byte[] bytes) throws IOException {
        Configuration conf = new Configuration(false);
        conf.readFields(new DataInputStream(new ByteArrayInputStream(bytes)));
        return conf;
    }

    /** Packs a folder's files (relative names, sub-folders kept) into a zip. */
    static void zip(Path folder, Path zip) throws IOException {
        try (OutputStream file = Files.newOutputStream(zip); ZipOutputStream out = new ZipOutputStream(file);
                var walk = Files.walk(folder)) {
            // weights barely compress: store them fast rather than small
            out.setLevel(Deflater.NO_COMPRESSION);
            for (Path p : walk.sorted().toList()) {
                if (Files.isRegularFile(p)) {
                    String name = folder.relativize(p).toString().replace('\\', '/');
                    ZipEntry e = new ZipEntry(name);
                    out.putNextEntry(e);
                    Files.copy(p, out);
                    out.closeEntry();
                }
            }
        }
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase(Locale.ROOT) + " " + given;
    }
}
