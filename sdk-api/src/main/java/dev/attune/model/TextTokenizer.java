package dev.attune.model;

import org.apiguardian.api.API;

import dev.attune.error.InvalidDataException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/** A checkpoint's tokenizer. Implementations are thread-safe. */
@API(status = API.Status.STABLE, since = "0.1")
public interface TextTokenizer extends AutoCloseable {
    /**
     * Tokenises with special tokens and truncation ({@code longest_first} for pairs), no padding.
     *
     * @param text first text
     * @param textPair second text, or null
     * @param maxLength maximum tokens including special tokens
     * @return the encoding
     */
    Encoding encode(String text, String textPair, int maxLength);

    /**
     * Tokenises words that are already split (NER), one word id per word.
     *
     * @param words the words
     * @param maxLength maximum tokens including special tokens
     * @return the encoding
     */
    Encoding encodeWords(List<String> words, int maxLength);

    /**
     * @param ids token ids
     * @param skipSpecialTokens drop special tokens
     * @return the text
     */
    String decode(long[] ids, boolean skipSpecialTokens);

    /** @return id used to pad batches */
    long padTokenId();

    /**
     * @param token a token string
     * @return its id, or -1
     */
    long tokenToId(String token);

    /** @return vocabulary size */
    int vocabularySize();

    /**
     * Writes the tokenizer files (tokenizer.json, tokenizer_config.json, vocab files present) into a
     * model folder.
     *
     * @param directory target folder (exists)
     */
    void saveTo(Path directory);

    /**
     * A tokenizer of the same vocabulary and settings that the caller owns and closes on its own. A
     * model keeps one, so that closing the checkpoint it was prepared from (and that checkpoint's
     * tokenizer) leaves the model working. The default returns this tokenizer itself, which is
     * right for tokenizers whose {@link #close()} releases nothing; implementations that hold
     * native resources return an independent instance.
     *
     * @return a tokenizer owned by the caller
     */
    default TextTokenizer copy() {
        return this;
    }

    /** Releases native resources. */
    @Override
    void close();

    /**
     * @return whether {@link #applyChatTemplate} works: the checkpoint ships a chat template
     *     ({@code chat_template.jinja} or {@code tokenizer_config.json}'s {@code chat_template}) or
     *     one was given with {@link #withChatTemplate}
     */
    default boolean hasChatTemplate() {
        return false;
    }

    /**
     * Renders a conversation with the chat template and tokenises the text without adding special
     * tokens, as HuggingFace's {@code tokenizer.apply_chat_template(messages, tokenize=True)} does.
     *
     * @param messages the conversation, in order
     * @param addGenerationPrompt whether to end with the opening of an assistant turn (for generation)
     * @return the rendered text, its ids and the assistant mask
     * @throws InvalidDataException when there is no chat template, a message has no content, or the
     *     template refuses the conversation (its {@code raise_exception})
     */
    default ChatEncoding applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt) {
        throw new InvalidDataException(this + " has no chat template (no chat_template.jinja and no 'chat_template' in"
                + " tokenizer_config.json); pass a Jinja template file with --chat-template FILE");
    }

    /**
     * As {@link #applyChatTemplate(List, boolean)}, for a caller that may not need the assistant mask:
     * with {@code requireAssistantMask} false, an assistant reply the template does not render as
     * written (a template that drops the reasoning of earlier turns, say) is left out of the mask
     * instead of being an error. A chat prompt or {@code loss_on=all} training needs no mask.
     *
     * @param messages the conversation, in order
     * @param addGenerationPrompt whether to end with the opening of an assistant turn (for generation)
     * @param requireAssistantMask whether every assistant reply must be found for the mask
     * @return the rendered text, its ids and the assistant mask
     * @throws InvalidDataException as {@link #applyChatTemplate(List, boolean)}
     */
    default ChatEncoding applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt,
            boolean requireAssistantMask) {
        return applyChatTemplate(messages, addGenerationPrompt);
    }

    /**
     * @param template the Jinja source of a chat template (HuggingFace's variables: {@code messages},
     *     {@code add_generation_prompt}, {@code bos_token}, {@code eos_token}, {@code raise_exception})
     * @return a tokenizer like this one that renders conversations with {@code template}, owned by
     *     the caller
     * @throws UnsupportedOperationException when this tokenizer cannot render templates
     */
    default TextTokenizer withChatTemplate(String template) {
        throw new UnsupportedOperationException(this + " cannot render chat templates");
    }

    /**
     * One turn of a conversation, as chat templates and TRL's conversational datasets write it.
     *
     * @param role {@code system}, {@code user}, {@code assistant}, or another role the template knows
     * @param content the text of the turn
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    record ChatMessage(String role, String content) {
        /** @throws NullPointerException when role or content is null */
        public ChatMessage {
            Objects.requireNonNull(role, "role");
            Objects.requireNonNull(content, "content");
        }
    }

    /**
     * A conversation rendered by a chat template and tokenised.
     *
     * @param text the rendered text
     * @param ids its token ids
     * @param assistantMask per token, 1 for the tokens assistant-only training learns: every token
     *     of an assistant reply and the end-of-turn token that closes it; 0 elsewhere
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    record ChatEncoding(String text, long[] ids, long[] assistantMask) {}

    /**
     * One tokenised text (or text pair), with special tokens, as HuggingFace tokenizers return it.
     *
     * @param ids token ids
     * @param typeIds segment ids (0 for the first text, 1 for the second)
     * @param attentionMask 1 for real tokens
     * @param charStarts per token, start character offset in its text (-1 for special tokens)
     * @param charEnds per token, end character offset (exclusive) in its text
     * @param sequenceIds per token: 0 first text, 1 second text, -1 special token
     * @param wordIds per token: index of the word it came from, or -1
     */
    @API(status = API.Status.STABLE, since = "0.1")
    public record Encoding(
            long[] ids,
            long[] typeIds,
            long[] attentionMask,
            int[] charStarts,
            int[] charEnds,
            int[] sequenceIds,
            int[] wordIds) {
        /** @return number of tokens */
        public int length() {
            return ids.length;
        }
    }
}
