package dev.attune.tasks.qa;

import dev.attune.error.ConfigurationException;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.TextTokenizer;
import dev.attune.task.Features;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a question and a long context into features {@code [CLS] question [SEP] window [SEP]}, one
 * per window of the context, as HuggingFace's {@code run_qa} example does with {@code
 * truncation="only_second"}, {@code stride} and overflowing tokens.
 *
 * <p>The tokenizer encodes one text (or pair) at a time, so the question and the context are each
 * tokenised alone (without truncation) and the inputs are assembled here. That assumes a BERT-style
 * tokenizer: one {@code [CLS]} before the question, one {@code [SEP]} after each part, type id 0
 * for {@code [CLS]}, the question and its {@code [SEP]}, type id 1 for the context and the final
 * {@code [SEP]}; the special ids come from {@link TextTokenizer#tokenToId} of {@code [CLS]} and
 * {@code [SEP]}. It also assumes the context tokenises the same alone as after a question, which
 * holds for WordPiece.
 *
 * <p>Windows hold {@code maxLength - 3 - questionTokens} context tokens; each starts {@code
 * windowLength - stride} tokens after the previous (so consecutive windows share {@code stride}
 * tokens) and the last one ends at the context's end. Questions longer than {@code (maxLength - 3)
 * / 2} tokens are cut to that, so half of every feature is left for the context.
 */
final class QaEncoder {
    static final String INPUT_IDS = "input_ids";
    static final String TOKEN_TYPE_IDS = "token_type_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String START_POSITIONS = "start_positions";
    static final String END_POSITIONS = "end_positions";

    /** A maximum length that no real text reaches, to tokenise without truncation. */
    private static final int UNTRUNCATED = 1_000_000;

    private QaEncoder() {}

    /** The non-special tokens of one text, with their character spans. */
    private record Tokens(long[] ids, int[] starts, int[] ends) {
        static Tokens of(Encoding enc) {
            int n = 0;
            for (int s : enc.sequenceIds()) {
                if (s == 0) {
                    n++;
                }
            }
            long[] ids = new long[n];
            int[] starts = new int[n];
            int[] ends = new int[n];
            int j = 0;
            for (int i = 0; i < enc.length(); i++) {
                if (enc.sequenceIds()[i] == 0) {
                    ids[j] = enc.ids()[i];
                    starts[j] = enc.charStarts()[i];
                    ends[j] = enc.charEnds()[i];
                    j++;
                }
            }
            return new Tokens(ids, starts, ends);
        }

        int length() {
            return ids.length;
        }
    }

    /**
     * @param e the example; its first answer gives {@code start_positions} and {@code
     *     end_positions} when it has one
     * @param exampleIndex its index
     * @param tokenizer the tokenizer
     * @param maxLength tokens per feature
     * @param stride context tokens shared by consecutive windows
     * @return one feature per window, each with a {@link ContextWindow} as context
     * @throws ConfigurationException when the tokenizer has no [CLS] or [SEP] token, or the context
     *     needs several windows but maxLength leaves no more room for it than the stride
     */
    static List<Features> encode(QaExample e, int exampleIndex, TextTokenizer tokenizer, int maxLength, int stride) {
        long cls = tokenizer.tokenToId("[CLS]");
        long sep = tokenizer.tokenToId("[SEP]");
        if (cls < 0 || sep < 0) {
            throw new ConfigurationException("question answering builds BERT-style inputs [CLS] question [SEP] context"
                    + " [SEP], but the tokenizer has no " + (cls < 0 ? "[CLS]" : "[SEP]") + " token; use a BERT-style"
                    + " checkpoint (BERT, DistilBERT)");
        }
        if (maxLength < 5) {
            throw new ConfigurationException("maxLength " + maxLength + " is too small for question answering: it"
                    + " needs [CLS], [SEP] twice, and question and context tokens");
        }
        Tokens question = Tokens.of(tokenizer.encode(e.question(), null, UNTRUNCATED));
        Tokens context = Tokens.of(tokenizer.encode(e.context(), null, UNTRUNCATED));
        int q = Math.min(question.length(), (maxLength - 3) / 2);
        int window = maxLength - 3 - q;
        int step = window - stride;
        if (step < 1 && context.length() > window) {
            throw new ConfigurationException("doc_stride " + stride + " must be smaller than the " + window
                    + " context tokens a feature of " + maxLength + " tokens holds after a question of " + q
                    + " tokens; lower doc_stride or raise the maximum length");
        }
        QaExample.Answer answer = e.answers().isEmpty() ? null : e.answers().get(0);
        List<Features> out = new ArrayList<>();
        int n = context.length();
        for (int start = 0, index = 0; ; start += step, index++) {
            int end = Math.min(start + window, n);
            out.add(feature(exampleIndex, index, cls, sep, question, q, context, start, end, answer));
            if (end >= n) {
                break;
            }
        }
        return out;
    }

    private static Features feature(int exampleIndex, int index, long cls, long sep, Tokens question, int q,
            Tokens context, int start, int end, QaExample.Answer answer) {
        int offset = q + 2;
        int length = offset + (end - start) + 1;
        long[] ids = new long[length];
        long[] types = new long[length];
        long[] mask = new long[length];
        int[] charStarts = new int[length];
        int[] charEnds = new int[length];
        Arrays.fill(mask, 1);
        Arrays.fill(charStarts, -1);
        Arrays.fill(charEnds, -1);
        ids[0] = cls;
        System.arraycopy(question.ids(), 0, ids, 1, q);
        ids[q + 1] = sep;
        for (int i = start; i < end; i++) {
            int p = offset + i - start;
            ids[p] = context.ids()[i];
            types[p] = 1;
            charStarts[p] = context.starts()[i];
            charEnds[p] = context.ends()[i];
        }
        ids[length - 1] = sep;
        types[length - 1] = 1;
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put(INPUT_IDS, ids);
        fields.put(TOKEN_TYPE_IDS, types);
        fields.put(ATTENTION_MASK, mask);
        if (answer != null) {
            int[] span = answerTokens(context, start, end, answer);
            fields.put(START_POSITIONS, new long[] {span == null ? 0 : offset + span[0] - start});
            fields.put(END_POSITIONS, new long[] {span == null ? 0 : offset + span[1] - start});
        }
        return new Features(exampleIndex, fields, new ContextWindow(index, charStarts, charEnds));
    }

    /**
     * @return the context tokens {@code [first, last]} (inclusive, context indices) of the answer
     *     when the window {@code [start, end)} holds all of it, else null. The first token is the
     *     last one starting at or before the answer's start, the last token the first one ending at
     *     or after the answer's end.
     */
    private static int[] answerTokens(Tokens context, int start, int end, QaExample.Answer answer) {
        if (end <= start) {
            return null;
        }
        int a = answer.start();
        int b = answer.end();
        if (context.starts()[start] > a || context.ends()[end - 1] < b) {
            return null;
        }
        int first = start;
        while (first < end && context.starts()[first] <= a) {
            first++;
        }
        first--;
        int last = end - 1;
        while (last >= start && context.ends()[last] >= b) {
            last--;
        }
        last++;
        return first <= last ? new int[] {first, last} : null;
    }
}
