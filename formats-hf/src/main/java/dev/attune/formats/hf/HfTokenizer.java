package dev.attune.formats.hf;

import org.apiguardian.api.API;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.TextTokenizer.ChatEncoding;
import dev.attune.model.TextTokenizer.ChatMessage;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.TextTokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.IntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A HuggingFace tokenizer read from a model folder's {@code tokenizer.json} and run by DJL's
 * binding of the Rust {@code tokenizers} library, so ids match Python exactly. A folder with only a
 * BERT {@code vocab.txt} gets an equivalent tokenizer.json built in Java.
 *
 * <p>DJL fixes truncation when a native tokenizer is created, so one native instance is kept per
 * {@code maxLength} in use (configured before it is shared, never changed afterwards). Encoding is
 * safe from several threads; {@link #close()} waits for encodings in progress.
 *
 * <p>Character offsets are converted from the native code-point offsets to Java {@code String}
 * indices, so {@code text.substring(charStarts[i], charEnds[i])} is the token's text (within its
 * word for {@link #encodeWords}).
 *
 * <p>A hostile tokenizer.json must not take the process down: a Rust panic in the native library
 * aborts the whole JVM. {@link TokenizerJsonCheck} refuses what is known to panic and can be
 * checked (a damaged SentencePiece {@code precompiled_charsmap}); a tokenizer with regular
 * expressions, whose matching Oniguruma may give up on (a panic) for some texts, runs in a
 * separate process ({@link TokenizerProcess}), where a panic or a runaway match ends that process
 * and the call fails with a message. {@code -D}{@value #ISOLATION_PROPERTY}{@code =auto} (default),
 * {@code always} or {@code never} chooses.
 *
 * <p>Long texts are not tokenized whole when {@code maxLength} needs only their beginning: the
 * text is cut to a window (at least {@value #WINDOW_MIN_CHARS} characters, 8 per token of {@code
 * maxLength}), grown fourfold until the window's words, all but its last two (which the cut may
 * change), give {@code maxLength} tokens, so the result is the one the whole text would give. A
 * single word, or text the normalizer removes, longer than {@value #WINDOW_MAX_CHARS} characters
 * is cut there.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class HfTokenizer implements TextTokenizer {
    /** The tokenizer file of a HuggingFace model folder. */
    public static final String TOKENIZER_JSON = "tokenizer.json";
    /** The tokenizer settings file of a HuggingFace model folder. */
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    /** The vocabulary of BERT-style checkpoints without tokenizer.json. */
    public static final String VOCAB_TXT = "vocab.txt";

    /** Files copied by {@link #saveTo} when the source folder had them. */
    private static final List<String> COMPANION_FILES =
            List.of(TOKENIZER_CONFIG, VOCAB_TXT, "special_tokens_map.json", "vocab.json", "merges.txt",
                    ChatTemplate.FILE_NAME);
    /** System property: {@code auto} (default), {@code always} or {@code never} run tokenizers apart. */
    public static final String ISOLATION_PROPERTY = "attune.tokenizer.isolation";
    /** Texts up to this many characters (or 8 per token of maxLength) are tokenized whole. */
    static final int WINDOW_MIN_CHARS = 4096;
    /** The largest window a text is cut to when its first words never settle. */
    static final int WINDOW_MAX_CHARS = 1 << 20;
    /** Distinct maxLength values with a cached native instance. */
    private static final int MAX_CACHED_LENGTHS = 16;

    private static final Logger LOG = LoggerFactory.getLogger(HfTokenizer.class);

    static {
        // DJL's tokenizer factory reports usage over the network unless offline; Attune never
        // downloads through DJL, so offline is right for every user (an explicit setting wins).
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int[] IDENTITY = new int[0];

    private final String origin;
    private final byte[] tokenizerJson;
    private final Map<String, byte[]> files;
    private final Map<String, Long> vocab;
    private final int vocabularySize;
    private final long padTokenId;
    private final boolean cleanUpSpaces;
    private final HuggingFaceTokenizer untruncated;
    /** Native instances by maxLength, least recently used first; guarded by itself. */
    private final Map<Integer, HuggingFaceTokenizer> byMaxLength = new LinkedHashMap<>(16, 0.75f, true);
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean warnedEviction; // guarded by byMaxLength
    private boolean closed;
    /** tokenizer_config.json, or null: kept so that {@link #copy()} builds the same tokenizer. */
    private final JsonNode config;
    /** The chat template (chat_template.jinja, else tokenizer_config.json's), or null. */
    private final ChatTemplate chatTemplate;

    /** Runs the native library apart, or null when it runs in this process. */
    private final TokenizerProcess isolated;

    private HfTokenizer(String origin, Map<String, byte[]> files, JsonNode config, boolean inProcess) {
        this.origin = origin;
        this.config = config;
        this.files = files;
        this.tokenizerJson = files.get(TOKENIZER_JSON);
        JsonNode json = parseJson(origin, new String(tokenizerJson, StandardCharsets.UTF_8));
        this.vocab = readVocabulary(origin, json);
        long maxId = vocab.values().stream().mapToLong(Long::longValue).max().orElse(-1);
        this.vocabularySize = Math.toIntExact(maxId + 1);
        this.padTokenId = resolvePadId(json, config);
        this.cleanUpSpaces = config != null && config.path("clean_up_tokenization_spaces").asBoolean(false);
        this.chatTemplate = ChatTemplate.find(origin, files, config);
        TokenizerJsonCheck.Verdict verdict = TokenizerJsonCheck.check(origin, json);
        String mode = System.getProperty(ISOLATION_PROPERTY, "auto").trim().toLowerCase(java.util.Locale.ROOT);
        if (!List.of("auto", "always", "never").contains(mode)) {
            throw new ConfigurationException("-D" + ISOLATION_PROPERTY + "=" + mode + " is not auto, always or never");
        }
        boolean apart = !inProcess && (mode.equals("always") || mode.equals("auto") && !verdict.regexes().isEmpty());
        if (apart) {
            String why = verdict.regexes().isEmpty() ? "-D" + ISOLATION_PROPERTY + "=always asks for it"
                    : "its regular expressions (" + verdict.regexes().get(0) + (verdict.regexes().size() > 1
                            ? " and " + (verdict.regexes().size() - 1) + " more" : "") + ") may make the native library"
                            + " give up on a text, which aborts the process it runs in";
            this.isolated = new TokenizerProcess(origin, files, why);
            this.untruncated = null;
        } else {
            this.isolated = null;
            this.untruncated = create(Map.of("truncation", "false"));
        }
    }

    /** The child side of {@link TokenizerProcess}: the files' tokenizer, always in this process. */
    static HfTokenizer inProcess(String origin, Map<String, byte[]> files) {
        JsonNode config = files.containsKey(TOKENIZER_CONFIG)
                ? parseJson(origin, new String(files.get(TOKENIZER_CONFIG), StandardCharsets.UTF_8)) : null;
        return new HfTokenizer(origin, files, config, true);
    }

    /**
     * @param directory a model folder
     * @return whether it holds tokenizer.json or vocab.txt
     */
    public static boolean isPresent(Path directory) {
        return Files.isRegularFile(directory.resolve(TOKENIZER_JSON)) || Files.isRegularFile(directory.resolve(VOCAB_TXT));
    }

    /**
     * Loads the tokenizer of a model folder: tokenizer.json, else a BERT vocab.txt (lowercasing per
     * tokenizer_config.json's {@code do_lower_case}, default true).
     *
     * @param directory a model folder
     * @return the tokenizer
     * @throws InvalidCheckpointException when no tokenizer file is present or one is invalid
     */
    public static HfTokenizer load(Path directory) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (String name : COMPANION_FILES) {
            Path p = directory.resolve(name);
            if (Files.isRegularFile(p)) {
                files.put(name, readBytes(p));
            }
        }
        JsonNode config = files.containsKey(TOKENIZER_CONFIG)
                ? parseJson(directory.resolve(TOKENIZER_CONFIG).toString(),
                        new String(files.get(TOKENIZER_CONFIG), StandardCharsets.UTF_8))
                : null;
        Path tokenizerFile = directory.resolve(TOKENIZER_JSON);
        byte[] json;
        String origin;
        if (Files.isRegularFile(tokenizerFile)) {
            json = readBytes(tokenizerFile);
            origin = tokenizerFile.toString();
        } else if (files.containsKey(VOCAB_TXT)) {
            Path vocabFile = directory.resolve(VOCAB_TXT);
            json = BertWordPieceJson.build(vocabFile, BertWordPieceJson.decode(files.get(VOCAB_TXT)), config)
                    .getBytes(StandardCharsets.UTF_8);
            origin = vocabFile.toString();
            LOG.info("{} has no {}; built a BERT WordPiece tokenizer from {}", directory, TOKENIZER_JSON, VOCAB_TXT);
        } else {
            throw new InvalidCheckpointException(directory + ": no " + TOKENIZER_JSON + " or " + VOCAB_TXT
                    + " found; download the model's tokenizer files into this folder");
        }
        files.put(TOKENIZER_JSON, json); // saveTo writes it back, generated or as shipped
        return new HfTokenizer(origin, Collections.unmodifiableMap(files), config, false);
    }

    @Override
    public Encoding encode(String text, String textPair, int maxLength) {
        Objects.requireNonNull(text, "text");
        if (maxLength < 1) {
            throw new ConfigurationException("maxLength must be at least 1, got " + maxLength);
        }
        if (isolated != null) {
            return isolated.encode(text, textPair, maxLength);
        }
        String first = window(text, maxLength);
        String second = textPair == null ? null : window(textPair, maxLength);
        return withInstance(maxLength, tk -> {
            ai.djl.huggingface.tokenizers.Encoding e =
                    second == null ? tk.encode(first, true, false) : tk.encode(first, second, true, false);
            return convert(e, false, seq -> seq == 1 ? second : first);
        });
    }

    /**
     * The beginning of a text that gives the same first {@code maxLength} tokens as the whole text
     * (see the class comment), or the text itself when it is short.
     */
    private String window(String text, int maxLength) {
        long first = Math.max(WINDOW_MIN_CHARS, 8L * maxLength);
        if (text.length() <= first || first >= WINDOW_MAX_CHARS) {
            return text; // short, or the caller asks for (nearly) everything
        }
        for (long w = first; ; w = Math.min(4 * w, WINDOW_MAX_CHARS)) {
            if (w >= text.length()) {
                return text;
            }
            String piece = cut(text, (int) w);
            if (settledTokens(piece) >= maxLength) {
                return piece;
            }
            if (w == WINDOW_MAX_CHARS) {
                LOG.debug("{}: a text of {} characters is cut to {} before tokenizing (its first words do not settle)",
                        origin, text.length(), w);
                return piece;
            }
        }
    }

    /** The first {@code n} characters, one less when that would split a surrogate pair. */
    private static String cut(String text, int n) {
        return text.substring(0, Character.isHighSurrogate(text.charAt(n - 1)) ? n - 1 : n);
    }

    /**
     * Tokens of a text's beginning whose words the cut cannot have changed: all but the last two
     * words' (the last may be cut; a pattern may look past the one before it).
     */
    private int settledTokens(String piece) {
        long[] wordIds;
        lock.readLock().lock();
        try {
            ensureOpen();
            wordIds = untruncated.encode(piece, false, false).getWordIds();
        } catch (RuntimeException e) {
            if (e instanceof AttuneException a) {
                throw a;
            }
            throw new InvalidDataException(origin + ": tokenization failed (" + e.getMessage() + ")", e);
        } finally {
            lock.readLock().unlock();
        }
        long last = -1;
        for (long w : wordIds) {
            last = Math.max(last, w);
        }
        int settled = 0;
        for (long w : wordIds) {
            if (w >= 0 && w < last - 1) {
                settled++;
            }
        }
        return settled;
    }

    @Override
    public Encoding encodeWords(List<String> words, int maxLength) {
        for (String w : words) {
            Objects.requireNonNull(w, () -> "words contains null");
        }
        if (maxLength < 1) {
            throw new ConfigurationException("maxLength must be at least 1, got " + maxLength);
        }
        if (isolated != null) {
            return isolated.encodeWords(words, maxLength);
        }
        String[] array = windowWords(words, maxLength).toArray(new String[0]);
        return withInstance(maxLength, tk -> {
            ai.djl.huggingface.tokenizers.Encoding e = tk.encode(array, true, false);
            // offsets of pre-split words are relative to each word
            return convert(e, true, w -> w < array.length ? array[w] : "");
        });
    }

    /**
     * The first words of pre-split text that give {@code maxLength} tokens (each word is whole, so
     * their tokens are those of the whole list); a word longer than {@value #WINDOW_MAX_CHARS}
     * characters is cut there.
     */
    private List<String> windowWords(List<String> words, int maxLength) {
        long first = Math.max(WINDOW_MIN_CHARS, 8L * maxLength);
        long total = 0;
        for (String w : words) {
            total += w.length();
        }
        if (total <= first || first >= WINDOW_MAX_CHARS) {
            return words;
        }
        List<String> capped = new java.util.ArrayList<>(words.size());
        for (String w : words) {
            capped.add(w.length() > WINDOW_MAX_CHARS ? cut(w, WINDOW_MAX_CHARS) : w);
        }
        for (long w = first; ; w = Math.min(4 * w, 4L * WINDOW_MAX_CHARS)) {
            int n = 0;
            long chars = 0;
            while (n < capped.size() && chars < w) {
                chars += capped.get(n++).length();
            }
            if (n == capped.size()) {
                return capped;
            }
            List<String> prefix = capped.subList(0, n);
            int tokens;
            lock.readLock().lock();
            try {
                ensureOpen();
                tokens = untruncated.encode(prefix.toArray(new String[0]), false, false).getIds().length;
            } catch (RuntimeException e) {
                throw new InvalidDataException(origin + ": tokenization failed (" + e.getMessage() + ")", e);
            } finally {
                lock.readLock().unlock();
            }
            if (tokens >= maxLength || w == 4L * WINDOW_MAX_CHARS) {
                return prefix;
            }
        }
    }

    @Override
    public String decode(long[] ids, boolean skipSpecialTokens) {
        if (isolated != null) {
            String text = isolated.decode(ids, skipSpecialTokens);
            return text;
        }
        lock.readLock().lock();
        try {
            ensureOpen();
            String text = untruncated.decode(ids, skipSpecialTokens);
            return cleanUpSpaces ? cleanUpTokenization(text) : text;
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public long padTokenId() {
        return padTokenId;
    }

    @Override
    public long tokenToId(String token) {
        return vocab.getOrDefault(token, -1L);
    }

    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    @Override
    public void saveTo(Path directory) {
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            Path target = directory.resolve(f.getKey());
            try {
                AtomicFiles.write(target, f.getValue());
            } catch (IOException e) {
                throw new AttuneException("could not write " + target + " (" + e + "); check that the folder "
                        + "exists, is writable and has free space", e);
            }
        }
    }

    /**
     * A new native tokenizer built from the same files, which the caller closes on its own.
     *
     * @throws AttuneException when this tokenizer is closed
     */
    @Override
    public HfTokenizer copy() {
        lock.readLock().lock();
        try {
            ensureOpen();
            return new HfTokenizer(origin, files, config, false);
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                synchronized (byMaxLength) {
                    byMaxLength.values().forEach(HuggingFaceTokenizer::close);
                    byMaxLength.clear();
                }
                if (untruncated != null) {
                    untruncated.close();
                }
                if (isolated != null) {
                    isolated.close();
                }
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "HfTokenizer(" + origin + ")";
    }

    @Override
    public boolean hasChatTemplate() {
        return chatTemplate != null;
    }

    /** @return the chat template, if the tokenizer has one */
    public java.util.Optional<ChatTemplate> chatTemplate() {
        return java.util.Optional.ofNullable(chatTemplate);
    }

    @Override
    public ChatEncoding applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return applyChatTemplate(messages, addGenerationPrompt, true);
    }

    @Override
    public ChatEncoding applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt,
            boolean requireAssistantMask) {
        if (chatTemplate == null) {
            return TextTokenizer.super.applyChatTemplate(messages, addGenerationPrompt);
        }
        Map<String, String> special = new LinkedHashMap<>();
        for (String key : List.of("bos_token", "eos_token", "pad_token", "unk_token")) {
            special.put(key, specialToken(key));
        }
        String text = chatTemplate.render(messages, addGenerationPrompt, special);
        List<int[]> spans = chatTemplate.assistantSpans(text, messages, special.get("eos_token"), requireAssistantMask);
        Encoding e = encodeWithoutSpecialTokens(text);
        long[] mask = new long[e.length()];
        for (int i = 0; i < mask.length; i++) {
            int start = e.charStarts()[i];
            int end = e.charEnds()[i];
            for (int[] span : spans) {
                if (start >= 0 && start < span[1] && end > span[0]) {
                    mask[i] = 1;
                }
            }
        }
        return new ChatEncoding(text, e.ids(), mask);
    }

    @Override
    public HfTokenizer withChatTemplate(String template) {
        Map<String, byte[]> withTemplate = new LinkedHashMap<>(files);
        withTemplate.put(ChatTemplate.FILE_NAME, template.getBytes(StandardCharsets.UTF_8));
        return new HfTokenizer(origin, Collections.unmodifiableMap(withTemplate), config, false);
    }

    /**
     * Tokenises text as it is, adding no special tokens and truncating nothing (the text a chat
     * template renders carries its own).
     *
     * @param text the text
     * @return its encoding
     */
    public Encoding encodeWithoutSpecialTokens(String text) {
        Objects.requireNonNull(text, "text");
        lock.readLock().lock();
        try {
            ensureOpen();
            if (isolated != null) {
                return isolated.encodeWithoutSpecialTokens(text);
            }
            ai.djl.huggingface.tokenizers.Encoding e;
            try {
                e = untruncated.encode(text, false, false);
            } catch (RuntimeException ex) {
                throw new InvalidDataException(origin + ": tokenization failed (" + ex.getMessage() + ")", ex);
            }
            return convert(e, false, seq -> text);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** @return a special token of tokenizer_config.json (a string or an AddedToken object), or null */
    private String specialToken(String key) {
        JsonNode n = config == null ? null : config.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        return n.isObject() ? n.path("content").asText(null) : n.asText();
    }

    // ---- native instances ----

    /** One encoding call on a native instance. */
    private interface Call {
        Encoding apply(HuggingFaceTokenizer tokenizer);
    }

    private Encoding withInstance(int maxLength, Call call) {
        if (maxLength < 1) {
            throw new ConfigurationException("maxLength must be at least 1, got " + maxLength);
        }
        lock.readLock().lock();
        try {
            ensureOpen();
            HuggingFaceTokenizer tk = instanceFor(maxLength);
            Encoding result;
            try {
                result = call.apply(tk);
            } catch (RuntimeException e) {
                // the native library reports failures as plain RuntimeExceptions
                throw new InvalidDataException(origin + ": tokenization failed with maxLength " + maxLength + " ("
                        + e.getMessage() + ")", e);
            }
            if (result.length() > maxLength) {
                // the native library silently skips truncation when maxLength cannot even hold the
                // special tokens, which would break the caller's length contract
                long specials = Arrays.stream(result.sequenceIds()).filter(s -> s < 0).count();
                throw new ConfigurationException("maxLength " + maxLength + " is too small for " + origin
                        + ": it adds " + specials + " special tokens to this input; use a larger maxLength");
            }
            return result;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Returns the native instance truncating at maxLength, creating it outside the cache's lock. An
     * instance evicted from the cache may still be in use by another thread, so it is not closed
     * here: DJL releases it when it becomes unreachable.
     */
    private HuggingFaceTokenizer instanceFor(int maxLength) {
        synchronized (byMaxLength) {
            HuggingFaceTokenizer tk = byMaxLength.get(maxLength);
            if (tk != null) {
                return tk;
            }
        }
        HuggingFaceTokenizer created = truncating(maxLength);
        synchronized (byMaxLength) {
            HuggingFaceTokenizer raced = byMaxLength.get(maxLength);
            if (raced != null) {
                created.close(); // never shared
                return raced;
            }
            if (byMaxLength.size() >= MAX_CACHED_LENGTHS) {
                Iterator<Integer> eldest = byMaxLength.keySet().iterator();
                eldest.next();
                eldest.remove();
                if (!warnedEviction) {
                    warnedEviction = true;
                    LOG.warn("{}: more than {} different maxLength values in use; native tokenizers are re-created "
                            + "for them (slow); prefer a fixed maxLength", origin, MAX_CACHED_LENGTHS);
                }
            }
            byMaxLength.put(maxLength, created);
            return created;
        }
    }

    private HuggingFaceTokenizer truncating(int maxLength) {
        String n = Integer.toString(maxLength);
        return create(Map.of("truncation", "LONGEST_FIRST", "maxLength", n, "modelMaxLength", n));
    }

    /**
     * Creates a native instance. Options that DJL would otherwise default (padding to the longest,
     * truncation at 512) are always given, and the tokenizer.json's own padding or truncation
     * blocks are overridden by them.
     */
    private HuggingFaceTokenizer create(Map<String, String> extra) {
        Map<String, String> options = new HashMap<>(extra);
        options.put("addSpecialTokens", "true");
        options.put("withOverflowingTokens", "false");
        options.put("padding", "false");
        options.put("stride", "0");
        try {
            return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson), options);
        } catch (IOException e) {
            throw new InvalidCheckpointException(origin + ": cannot be read (" + e + ")", e);
        } catch (RuntimeException e) {
            throw new InvalidCheckpointException(origin + ": the tokenizers library rejected it (" + e.getMessage()
                    + "); re-download the tokenizer files", e);
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new AttuneException("tokenizer " + origin + " is closed; the model or checkpoint that owned it was"
                    + " closed");
        }
    }

    // ---- conversion ----

    /**
     * @param keyByWord whether a token's text is its word (pre-split input) rather than its sequence
     * @param textOf the text of a sequence id or word id
     */
    private static Encoding convert(ai.djl.huggingface.tokenizers.Encoding e, boolean keyByWord, IntFunction<String> textOf) {
        long[] ids = e.getIds();
        int n = ids.length;
        int[] sequenceIds = toInts(e.getSequenceIds());
        int[] wordIds = toInts(e.getWordIds());
        int[] starts = new int[n];
        int[] ends = new int[n];
        CharSpan[] spans = e.getCharTokenSpans();
        Map<Integer, int[]> maps = new HashMap<>();
        for (int i = 0; i < n; i++) {
            CharSpan s = spans[i];
            int key = keyByWord ? wordIds[i] : sequenceIds[i];
            if (s == null || key < 0) { // special tokens have no span, sequence or word
                starts[i] = -1;
                ends[i] = -1;
            } else {
                int[] cp = maps.computeIfAbsent(key, k -> codePointToChar(textOf.apply(k)));
                starts[i] = index(cp, s.getStart());
                ends[i] = index(cp, s.getEnd());
            }
        }
        return new Encoding(ids, e.getTypeIds(), e.getAttentionMask(), starts, ends, sequenceIds, wordIds);
    }

    /** HuggingFace's clean_up_tokenization, applied when tokenizer_config.json asks for it. */
    private static String cleanUpTokenization(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    private static int[] toInts(long[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (int) values[i];
        }
        return out;
    }

    /** @return for each code point index 0..count, its UTF-16 index; empty when they coincide */
    private static int[] codePointToChar(String s) {
        if (s == null || s.codePointCount(0, s.length()) == s.length()) {
            return IDENTITY;
        }
        int count = s.codePointCount(0, s.length());
        int[] map = new int[count + 1];
        int ch = 0;
        for (int cp = 0; cp < count; cp++) {
            map[cp] = ch;
            ch += Character.charCount(s.codePointAt(ch));
        }
        map[count] = ch;
        return map;
    }

    private static int index(int[] map, int codePoint) {
        return codePoint >= map.length ? codePoint : map[codePoint];
    }

    // ---- tokenizer.json facts DJL does not expose ----

    private static Map<String, Long> readVocabulary(String origin, JsonNode json) {
        Map<String, Long> vocab = new HashMap<>();
        JsonNode model = json.path("model");
        JsonNode v = model.get("vocab");
        if (v != null && v.isObject()) { // WordPiece, BPE, WordLevel: token -> id
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                vocab.put(e.getKey(), tokenId(origin, "model.vocab['" + e.getKey() + "']", e.getValue()));
            }
        } else if (v != null && v.isArray()) { // Unigram: [piece, score], id = position
            for (int i = 0; i < v.size(); i++) {
                vocab.put(v.get(i).path(0).asText(), (long) i);
            }
        } else {
            throw new InvalidCheckpointException(origin + ": model.vocab is missing; re-download the tokenizer files");
        }
        for (JsonNode t : json.path("added_tokens")) {
            if (t.path("content").isTextual() && t.has("id")) {
                vocab.put(t.get("content").textValue(), tokenId(origin, "added_tokens id", t.get("id")));
            }
        }
        return Collections.unmodifiableMap(vocab);
    }

    /** A token id must be a whole number that fits the int-indexed embedding tables. */
    private static long tokenId(String origin, String where, JsonNode id) {
        if (id == null || !id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0
                || id.intValue() == Integer.MAX_VALUE) {
            throw new InvalidCheckpointException(origin + ": " + where + " is " + id + ", not a token id (a whole number"
                    + " from 0 to " + (Integer.MAX_VALUE - 1) + "); re-download the tokenizer files");
        }
        return id.intValue();
    }

    private long resolvePadId(JsonNode json, JsonNode config) {
        String padToken = config == null ? null : BertWordPieceJson.special(config, "pad_token", null);
        if (padToken != null) {
            Long id = vocab.get(padToken);
            if (id != null) {
                return id;
            }
            LOG.warn("{}: pad_token '{}' of {} is not in the vocabulary; padding with id 0", origin, padToken, TOKENIZER_CONFIG);
            return 0;
        }
        JsonNode padding = json.path("padding");
        if (padding.path("pad_id").canConvertToLong()) {
            return padding.get("pad_id").asLong();
        }
        return 0;
    }

    private static JsonNode parseJson(String origin, String text) {
        try {
            JsonNode node = JSON.readTree(text);
            if (node == null || !node.isObject()) {
                throw new InvalidCheckpointException(origin + ": expected a JSON object; re-download the tokenizer files");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new InvalidCheckpointException(origin + ": not valid JSON (" + e.getOriginalMessage()
                    + "); re-download the tokenizer files", e);
        }
    }

    private static byte[] readBytes(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new InvalidCheckpointException(p + ": cannot be read (" + e + "); check its permissions", e);
        }
    }
}
