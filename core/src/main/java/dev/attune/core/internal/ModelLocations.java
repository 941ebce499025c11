package dev.attune.core.internal;

import org.apiguardian.api.API;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * How the runtime reads a model location before asking the source providers: a leading {@code ~}
 * is the user's home, and a location that looks like a local path is never sent to a model hub.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class ModelLocations {
    /**
     * A file extension ends the last path element: a dot, then a letter and up to ten letters or
     * digits ({@code .onnx}, {@code .pb}, {@code .safetensors}). Hub ids with version dots ({@code
     * Qwen2.5-0.5B}, {@code pythia-1.4b}, {@code Phi-3.5-mini}) do not match: a digit follows their
     * dot, or a dash comes after it.
     */
    private static final Pattern EXTENSION = Pattern.compile("\\.[A-Za-z][A-Za-z0-9]{0,10}$");

    private ModelLocations() {}

    /**
     * @param location a location as typed
     * @return it with a leading {@code ~} or {@code ~/} replaced by the user's home folder
     */
    public static String expandHome(String location) {
        if (location.equals("~")) {
            return System.getProperty("user.home");
        }
        if (location.startsWith("~/") || location.startsWith("~" + java.io.File.separator)) {
            return Path.of(System.getProperty("user.home")).resolve(location.substring(2)).toString();
        }
        return location;
    }

    /**
     * @param location a location with {@code ~} expanded
     * @return it as a path, or null when the platform cannot read it as one
     */
    public static Path asPath(String location) {
        try {
            return Path.of(location);
        } catch (InvalidPathException e) {
            return null;
        }
    }

    /**
     * @param location a location with {@code ~} expanded
     * @return whether something exists at it on the local file system
     */
    public static boolean exists(String location) {
        Path path = asPath(location);
        return path != null && Files.exists(path);
    }

    /**
     * Whether a location reads as a local path rather than a model id: it starts with {@code /},
     * {@code ./}, {@code ../} or {@code ~} (or is {@code .} or {@code ..}), holds a backslash, its
     * last element has a file extension ({@code model.onnx}), or its first folder exists here
     * ({@code runs/spam-v2} when {@code runs/} exists). A URI ({@code hf://org/name}) is not.
     *
     * @param location a location with {@code ~} expanded
     * @return whether it looks local
     */
    public static boolean looksLocal(String location) {
        if (location.contains("://")) {
            return false;
        }
        if (location.startsWith("/") || location.startsWith("./") || location.startsWith("../")
                || location.equals(".") || location.equals("..") || location.startsWith("~")
                || location.indexOf('\\') >= 0) {
            return true;
        }
        String path = location;
        int at = path.lastIndexOf('@');
        if (at > 0) {
            path = path.substring(0, at); // org/name@revision: the revision may hold dots
        }
        String last = path.substring(path.lastIndexOf('/') + 1);
        if (EXTENSION.matcher(last).find()) {
            return true;
        }
        int slash = path.indexOf('/');
        if (slash > 0) {
            Path first = asPath(path.substring(0, slash));
            return first != null && Files.isDirectory(first);
        }
        return false;
    }
}
