package dev.attune.formats.hf;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.TextTokenizer.ChatMessage;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.apiguardian.api.API;

/**
 * A HuggingFace chat template: Jinja source rendered with Jinjava the way transformers renders it
 * ({@code trim_blocks} and {@code lstrip_blocks} on, Python's operator precedence) with
 * transformers' variables: {@code messages} (maps with {@code role} and {@code content}), {@code
 * add_generation_prompt}, the special tokens of {@code tokenizer_config.json} ({@code bos_token},
 * {@code eos_token}, {@code pad_token}, {@code unk_token}), {@code tools} absent, and the functions
 * {@code raise_exception(message)} and {@code strftime_now(format)}.
 *
 * <p>Which characters are an assistant's: {@link #assistantSpans} finds each message's content in
 * the rendered text in order, and an assistant reply's span runs to the end of the end-of-turn
 * token right after it ({@code eos_token}), as the assistant mask of the fixtures does.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.2")
public final class ChatTemplate {
    /** The file transformers 4.43+ saves a chat template in, beside tokenizer_config.json. */
    public static final String FILE_NAME = "chat_template.jinja";

    private static final Jinjava JINJAVA = create();

    private final String source;
    private final String origin;

    /**
     * @param source the Jinja source
     * @param origin where it came from (a file, a key), for messages
     */
    public ChatTemplate(String source, String origin) {
        this.source = Objects.requireNonNull(source, "source");
        this.origin = Objects.requireNonNull(origin, "origin");
    }

    /**
     * The template of a tokenizer's files: {@value #FILE_NAME}, else {@code tokenizer_config.json}'s
     * {@code chat_template} (a string, or a list of named templates of which {@code default} is taken).
     *
     * @param origin the tokenizer's origin, for messages
     * @param files the tokenizer's files by name
     * @param config the parsed tokenizer_config.json, or null
     * @return the template, or null when there is none
     */
    static ChatTemplate find(String origin, Map<String, byte[]> files, com.fasterxml.jackson.databind.JsonNode config) {
        byte[] file = files.get(FILE_NAME);
        if (file != null) {
            return new ChatTemplate(new String(file, java.nio.charset.StandardCharsets.UTF_8), FILE_NAME + " of " + origin);
        }
        com.fasterxml.jackson.databind.JsonNode t = config == null ? null : config.get("chat_template");
        if (t == null || t.isNull()) {
            return null;
        }
        if (t.isTextual()) {
            return new ChatTemplate(t.textValue(), "tokenizer_config.json 'chat_template' of " + origin);
        }
        if (t.isArray()) {
            for (com.fasterxml.jackson.databind.JsonNode named : t) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return new ChatTemplate(named.get("template").textValue(),
                            "tokenizer_config.json 'chat_template' (default) of " + origin);
                }
            }
        }
        throw new InvalidCheckpointException(origin + ": tokenizer_config.json 'chat_template' must be a string or a"
                + " list of {name, template} with a 'default'; found " + t.getNodeType());
    }

    /** @return the Jinja source */
    public String source() {
        return source;
    }

    /** @return where the template came from */
    public String origin() {
        return origin;
    }

    private static Jinjava create() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                // a message is data: Jinjava would otherwise render "{{ ... }}" found in its text again
                .withNestedInterpretationEnabled(false)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withUsePyishObjectMapper(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
        jinjava.getGlobalContext().registerFilter(new PythonTrim());
        return jinjava;
    }

    /**
     * Jinja's {@code trim(value, chars=None)}, which is Python's {@code str.strip(chars)}: Jinjava's
     * own strips every character up to U+0020 (a NUL a reply ends with, say), so a template that
     * trims the content would render other text than transformers and lose the assistant's span.
     */
    private static final class PythonTrim implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (var == null) {
                return null;
            }
            return pythonStrip(var.toString(), args.length > 0 ? args[0] : null);
        }
    }

    /**
     * Python's {@code str.strip(chars)}.
     *
     * @param s the text
     * @param chars the characters to strip, or null for Python's whitespace ({@code str.isspace})
     * @return {@code s} without those characters at either end
     */
    static String pythonStrip(String s, String chars) {
        int start = 0;
        int end = s.length();
        while (start < end && strips(s.charAt(start), chars)) {
            start++;
        }
        while (end > start && strips(s.charAt(end - 1), chars)) {
            end--;
        }
        return s.substring(start, end);
    }

    private static boolean strips(char c, String chars) {
        if (c >= PLACEHOLDER && c < PLACEHOLDER + 0x20) { // a hidden control character (see hideControls)
            c = (char) (c - PLACEHOLDER);
        }
        if (chars != null) {
            return chars.indexOf(c) >= 0;
        }
        // str.isspace: the Unicode White_Space characters and the separators U+001C..U+001F
        return (c >= '\t' && c <= '\r') || (c >= '\u001c' && c <= '\u0020') || c == '\u0085' || c == '\u00a0'
                || c == '\u1680' || (c >= '\u2000' && c <= '\u200a') || c == '\u2028' || c == '\u2029'
                || c == '\u202f' || c == '\u205f' || c == '\u3000';
    }

    /** A template's own refusal ({@code raise_exception}). */
    static final class Raised extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Raised(String message) {
            super(message);
        }
    }

    /**
     * transformers' {@code raise_exception}: the template refuses the conversation.
     *
     * @param message the template's message
     * @return never
     */
    public static String raiseException(String message) {
        throw new Raised(message);
    }

    /**
     * transformers' {@code strftime_now}: the current local time in a Python {@code strftime} format
     * (the directives {@code %d %m %y %Y %b %B %a %A %H %M %S %j %%}).
     *
     * @param format the Python format
     * @return the formatted time
     */
    public static String strftimeNow(String format) {
        LocalDateTime now = LocalDateTime.now();
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char ch = format.charAt(i);
            if (ch != '%' || i + 1 == format.length()) {
                out.append(ch);
                continue;
            }
            char d = format.charAt(++i);
            String pattern = switch (d) {
                case 'd' -> "dd";
                case 'm' -> "MM";
                case 'y' -> "yy";
                case 'Y' -> "yyyy";
                case 'b' -> "MMM";
                case 'B' -> "MMMM";
                case 'a' -> "EEE";
                case 'A' -> "EEEE";
                case 'H' -> "HH";
                case 'M' -> "mm";
                case 'S' -> "ss";
                case 'j' -> "DDD";
                default -> null;
            };
            if (pattern == null) {
                out.append(d == '%' ? "%" : "%" + d);
            } else {
                out.append(DateTimeFormatter.ofPattern(pattern, Locale.ENGLISH).format(now));
            }
        }
        return out.toString();
    }

    /**
     * @param messages the conversation
     * @param addGenerationPrompt whether to open an assistant turn at the end
     * @param specialTokens {@code bos_token}, {@code eos_token}, ... (null values are left out)
     * @return the rendered text
     * @throws InvalidDataException when the template refuses the conversation
     * @throws InvalidCheckpointException when the template itself is broken
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, String> specialTokens) {
        boolean hide = messages.stream().noneMatch(m -> hasPlaceholder(m.content()) || hasPlaceholder(m.role()));
        List<Map<String, Object>> list = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", hide ? hideControls(m.role()) : m.role());
            map.put("content", hide ? hideControls(m.content()) : m.content());
            list.add(map);
        }
        Map<String, Object> context = new LinkedHashMap<>();
        specialTokens.forEach((k, v) -> {
            if (v != null) {
                context.put(k, v);
            }
        });
        context.put("messages", list);
        context.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result;
        try {
            result = JINJAVA.renderForResult(source, context);
        } catch (Raised e) {
            throw refused(e.getMessage());
        } catch (RuntimeException e) {
            throw new InvalidCheckpointException("chat template " + origin + " could not be rendered (" + e.getMessage()
                    + "); fix the template or pass another with --chat-template FILE", e);
        }
        for (TemplateError error : result.getErrors()) {
            Raised raised = raisedIn(error);
            if (raised != null) {
                throw refused(raised.getMessage());
            }
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new InvalidCheckpointException("chat template " + origin + " failed at line " + error.getLineno()
                        + ": " + error.getMessage() + "; fix the template or pass another with --chat-template FILE");
            }
        }
        return hide ? showControls(result.getOutput()) : result.getOutput();
    }

    /**
     * Jinjava writes the control characters U+0000..U+001F other than tab, newline, form feed and
     * carriage return as the six characters {@code \\uXXXX}, where transformers renders them as
     * they are (a random model's reply may hold a NUL). They go through the template as private-use
     * characters U+F700 + c and come back after; a conversation that holds such a character itself
     * is rendered as Jinjava renders it.
     */
    private static final char PLACEHOLDER = '\uf700';

    private static boolean escapedByJinjava(char c) {
        return c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r';
    }

    private static boolean hasPlaceholder(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) >= PLACEHOLDER && s.charAt(i) < PLACEHOLDER + 0x20) {
                return true;
            }
        }
        return false;
    }

    private static String hideControls(String s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (escapedByJinjava(c)) {
                if (b == null) {
                    b = new StringBuilder(s.substring(0, i));
                }
                b.append((char) (PLACEHOLDER + c));
            } else if (b != null) {
                b.append(c);
            }
        }
        return b == null ? s : b.toString();
    }

    private static String showControls(String s) {
        if (!hasPlaceholder(s)) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(c >= PLACEHOLDER && c < PLACEHOLDER + 0x20 ? (char) (c - PLACEHOLDER) : c);
        }
        return b.toString();
    }

    private static Raised raisedIn(TemplateError error) {
        for (Throwable t = error.getException(); t != null; t = t.getCause()) {
            if (t instanceof Raised r) {
                return r;
            }
        }
        String message = error.getMessage();
        return message != null && message.contains(Raised.class.getName())
                ? new Raised(message.substring(message.indexOf(Raised.class.getName()) + Raised.class.getName().length())
                        .replaceFirst("^:\\s*", ""))
                : null;
    }

    private InvalidDataException refused(String message) {
        return new InvalidDataException("chat template " + origin + " refused the conversation: " + message);
    }

    /**
     * The characters of each assistant reply and of the end-of-turn token that closes it: every
     * message's content is looked up in order (as written, else trimmed, as templates that {@code
     * trim} it render it), so text repeated from an earlier turn is not mistaken for a reply.
     *
     * @param text the rendered conversation
     * @param messages its messages
     * @param endOfTurn the token that closes a turn ({@code eos_token}), or null
     * @return {@code [start, end)} character spans, in order
     * @throws InvalidDataException when an assistant reply is not in the rendered text
     */
    public List<int[]> assistantSpans(String text, List<ChatMessage> messages, String endOfTurn) {
        return assistantSpans(text, messages, endOfTurn, true);
    }

    /**
     * As {@link #assistantSpans(String, List, String)}, optionally leaving out a reply the template
     * does not render as written (Qwen 3's drops the reasoning of earlier turns) instead of failing:
     * for rendering a prompt, which needs no mask.
     *
     * @param text the rendered conversation
     * @param messages its messages
     * @param endOfTurn the token that closes a turn ({@code eos_token}), or null
     * @param strict whether a reply that cannot be found is an error
     * @return {@code [start, end)} character spans, in order
     * @throws InvalidDataException when {@code strict} and an assistant reply is not in the rendered text
     */
    public List<int[]> assistantSpans(String text, List<ChatMessage> messages, String endOfTurn, boolean strict) {
        List<int[]> spans = new ArrayList<>();
        int cursor = 0;
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            String content = m.content();
            int at = text.indexOf(content, cursor);
            int length = content.length();
            if (at < 0) {
                String trimmed = pythonStrip(content, null);
                at = text.indexOf(trimmed, cursor);
                length = trimmed.length();
            }
            if (at < 0) {
                if (strict && m.role().equals("assistant")) {
                    throw new InvalidDataException("chat template " + origin + " does not render message " + (i + 1)
                            + " (assistant) as written, so its tokens cannot be found for assistant-only loss; use"
                            + " loss_on=all or a template that keeps assistant text");
                }
                continue; // a template may drop or rewrite other turns (a default system prompt, say)
            }
            int end = at + length;
            if (m.role().equals("assistant")) {
                if (endOfTurn != null && !endOfTurn.isEmpty() && text.startsWith(endOfTurn, end)) {
                    end += endOfTurn.length();
                }
                spans.add(new int[] {at, end});
            }
            cursor = end;
        }
        return spans;
    }
}
