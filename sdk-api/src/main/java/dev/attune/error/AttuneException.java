package dev.attune.error;

import org.apiguardian.api.API;

/**
 * Root of every exception Attune throws on purpose. Messages name the file, key or line involved
 * and say what the user can do about it.
 *
 * <p>Messages quote file contents (tensor and shard names, keys, tokens, lines of data), which a
 * stranger may have written: control characters in the message (terminal escapes such as ESC,
 * carriage returns, C1 controls, bidirectional overrides) are replaced by their <code>&#92;uXXXX</code>
 * escapes, so printing a message can neither drive the terminal nor hide or reorder text. Line
 * feeds and tabs, which Attune's own messages use, stay.
 */
@API(status = API.Status.STABLE, since = "0.1")
public class AttuneException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public AttuneException(String message) {
        super(printable(message));
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public AttuneException(String message, Throwable cause) {
        super(printable(message), cause);
    }

    /** The message with every control character but line feed and tab escaped as <code>&#92;uXXXX</code>. */
    private static String printable(String message) {
        if (message == null) {
            return null;
        }
        StringBuilder out = null;
        for (int i = 0; i < message.length(); i++) {
            char c = message.charAt(i);
            boolean control = c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f && c <= 0x9f
                    || c >= 0x202a && c <= 0x202e || c >= 0x2066 && c <= 0x2069 || c == 0x200e || c == 0x200f
                    || c == 0x061c;
            if (control && out == null) {
                out = new StringBuilder(message.length() + 16).append(message, 0, i);
            }
            if (out != null) {
                if (control) {
                    out.append(String.format("\\u%04X", (int) c));
                } else {
                    out.append(c);
                }
            }
        }
        return out == null ? message : out.toString();
    }
}
