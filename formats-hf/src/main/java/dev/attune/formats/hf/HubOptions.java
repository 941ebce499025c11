package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.error.ConfigurationException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How models are fetched from the HuggingFace Hub: the server, the local cache, the access token,
 * offline mode and network limits. {@link #fromEnvironment()} reads the variables HuggingFace's own
 * tools use, so a machine set up for Python works unchanged:
 *
 * <ul>
 *   <li>{@code HF_ENDPOINT}: the server (default {@value #DEFAULT_ENDPOINT});
 *   <li>{@code HF_TOKEN} (or the older {@code HUGGING_FACE_HUB_TOKEN}): sent as {@code
 *       Authorization: Bearer} for gated and private models;
 *   <li>{@code HF_HUB_OFFLINE=1}: use only the cache, never the network;
 *   <li>{@code ATTUNE_HUB_CACHE}: the cache folder (default {@code ~/.cache/attune/hub});
 *   <li>{@code ATTUNE_HUB_MAX_UNANNOUNCED_MB}: the most a file whose size the server does not
 *       announce may hold (default 64).
 * </ul>
 *
 * <p>Immutable; the {@code with*} methods return changed copies.
 */
@API(status = API.Status.STABLE, since = "0.1")
public final class HubOptions {
    /** The public HuggingFace Hub. */
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    private final URI endpoint;
    private final Path cacheDir;
    private final String token;
    private final boolean offline;
    private final Duration timeout;
    private final int maxRetries;
    private final long maxUnannouncedBytes;

    /** Default of {@link #maxUnannouncedBytes()}: the Hub keeps every file above 10 MB in LFS, with its size. */
    public static final long DEFAULT_MAX_UNANNOUNCED_BYTES = 64L << 20;

    private HubOptions(URI endpoint, Path cacheDir, String token, boolean offline, Duration timeout, int maxRetries,
                       long maxUnannouncedBytes) {
        this.endpoint = endpoint;
        this.cacheDir = cacheDir;
        this.token = token;
        this.offline = offline;
        this.timeout = timeout;
        this.maxRetries = maxRetries;
        this.maxUnannouncedBytes = maxUnannouncedBytes;
    }

    /** @return options from this process's environment variables (see the class comment) */
    public static HubOptions fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /**
     * @param env environment variables (see the class comment)
     * @return options from them, defaults for those not set
     * @throws ConfigurationException on a malformed {@code HF_ENDPOINT} or {@code HF_HUB_OFFLINE}
     */
    public static HubOptions fromEnvironment(Map<String, String> env) {
        String endpoint = nonBlank(env.get("HF_ENDPOINT")).orElse(DEFAULT_ENDPOINT);
        String cache = nonBlank(env.get("ATTUNE_HUB_CACHE")).orElse(null);
        Path cacheDir = cache != null ? Path.of(cache)
                : Path.of(System.getProperty("user.home"), ".cache", "attune", "hub");
        String token = nonBlank(env.get("HF_TOKEN")).or(() -> nonBlank(env.get("HUGGING_FACE_HUB_TOKEN"))).orElse(null);
        boolean offline = flag("HF_HUB_OFFLINE", env.get("HF_HUB_OFFLINE"));
        String cap = nonBlank(env.get("ATTUNE_HUB_MAX_UNANNOUNCED_MB")).orElse(null);
        long maxUnannounced = DEFAULT_MAX_UNANNOUNCED_BYTES;
        if (cap != null) {
            try {
                maxUnannounced = Math.multiplyExact(Long.parseLong(cap), 1L << 20);
            } catch (NumberFormatException | ArithmeticException e) {
                maxUnannounced = -1;
            }
            if (maxUnannounced <= 0) {
                throw new ConfigurationException("ATTUNE_HUB_MAX_UNANNOUNCED_MB='" + cap + "' is not a positive number"
                        + " of megabytes");
            }
        }
        return new HubOptions(endpoint(endpoint), cacheDir, token, offline, Duration.ofSeconds(30), 3, maxUnannounced);
    }

    /** @return the server's base address */
    public URI endpoint() {
        return endpoint;
    }

    /** @return the cache folder */
    public Path cacheDir() {
        return cacheDir;
    }

    /** @return the access token, if any */
    public Optional<String> token() {
        return Optional.ofNullable(token);
    }

    /** @return whether only the cache is used */
    public boolean offline() {
        return offline;
    }

    /** @return the connect timeout and the longest wait for data on a connection */
    public Duration timeout() {
        return timeout;
    }

    /** @return how many times an interrupted download is resumed before giving up */
    public int maxRetries() {
        return maxRetries;
    }

    /**
     * @param value the server's base address, e.g. {@code https://huggingface.co} or a mirror
     * @return a copy using it
     */
    public HubOptions withEndpoint(String value) {
        return new HubOptions(endpoint(value), cacheDir, token, offline, timeout, maxRetries, maxUnannouncedBytes);
    }

    /**
     * @param value the cache folder
     * @return a copy using it
     */
    public HubOptions withCacheDir(Path value) {
        return new HubOptions(endpoint, Objects.requireNonNull(value, "cacheDir"), token, offline, timeout, maxRetries, maxUnannouncedBytes);
    }

    /**
     * @param value an access token, or null for none
     * @return a copy using it
     */
    public HubOptions withToken(String value) {
        return new HubOptions(endpoint, cacheDir, nonBlank(value).orElse(null), offline, timeout, maxRetries, maxUnannouncedBytes);
    }

    /**
     * @param value whether to use only the cache
     * @return a copy using it
     */
    public HubOptions withOffline(boolean value) {
        return new HubOptions(endpoint, cacheDir, token, value, timeout, maxRetries, maxUnannouncedBytes);
    }

    /**
     * @param value connect timeout and longest wait for data (positive)
     * @return a copy using it
     */
    public HubOptions withTimeout(Duration value) {
        if (value.isNegative() || value.isZero()) {
            throw new ConfigurationException("Hub timeout must be positive, got " + value);
        }
        return new HubOptions(endpoint, cacheDir, token, offline, value, maxRetries, maxUnannouncedBytes);
    }

    /**
     * @param value resumptions of an interrupted download (0 or more)
     * @return a copy using it
     */
    public HubOptions withMaxRetries(int value) {
        if (value < 0) {
            throw new ConfigurationException("Hub maxRetries must be 0 or more, got " + value);
        }
        return new HubOptions(endpoint, cacheDir, token, offline, timeout, value, maxUnannouncedBytes);
    }

    /**
     * @return the most bytes accepted for a file whose size the server does not announce (no
     *     {@code X-Linked-Size}, {@code Content-Length} or complete {@code Content-Range}); more is
     *     refused and deleted. Environment: {@code ATTUNE_HUB_MAX_UNANNOUNCED_MB}.
     */
    public long maxUnannouncedBytes() {
        return maxUnannouncedBytes;
    }

    /**
     * @param value the most bytes accepted for a file of unannounced size (positive)
     * @return a copy using it
     */
    public HubOptions withMaxUnannouncedBytes(long value) {
        if (value <= 0) {
            throw new ConfigurationException("Hub maxUnannouncedBytes must be positive, got " + value);
        }
        return new HubOptions(endpoint, cacheDir, token, offline, timeout, maxRetries, value);
    }

    @Override
    public String toString() {
        return "HubOptions[endpoint=" + endpoint + ", cacheDir=" + cacheDir + ", token=" + (token == null ? "none" : "set")
                + ", offline=" + offline + ", timeout=" + timeout + ", maxRetries=" + maxRetries + ", maxUnannouncedBytes="
                + maxUnannouncedBytes + "]";
    }

    private static URI endpoint(String value) {
        String v = Objects.requireNonNull(value, "endpoint").trim();
        while (v.endsWith("/")) {
            v = v.substring(0, v.length() - 1);
        }
        URI uri;
        try {
            uri = URI.create(v);
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("Hub endpoint '" + value + "' is not a valid URL (set HF_ENDPOINT to e.g. "
                    + DEFAULT_ENDPOINT + ")", e);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http") || uri.getHost() == null) {
            throw new ConfigurationException("Hub endpoint '" + value + "' must be an http(s) URL with a host (set "
                    + "HF_ENDPOINT to e.g. " + DEFAULT_ENDPOINT + ")");
        }
        return uri;
    }

    private static boolean flag(String name, String value) {
        if (value == null || value.isBlank()) {
            return false;
        }
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "1", "true", "yes", "on" -> true;
            case "0", "false", "no", "off" -> false;
            default -> throw new ConfigurationException(name + "='" + value + "' is not a yes/no value; use 1 or 0");
        };
    }

    private static Optional<String> nonBlank(String value) {
        return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
    }
}
