package dev.attune.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Named.named;

import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.formats.hf.HfSources;
import dev.attune.model.PretrainedModel;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What {@link HfFixture#ALL} declares about each fixture's head holds: a family builds exactly the
 * declared heads, and refuses a fixture whose head it does not build yet with an {@link
 * UnsupportedArchitectureException} that names the head and the family. Once such a head is
 * written this fails, and the fixture is flipped to built in {@link HfFixture#ALL}, which puts it in
 * every engine's {@link FamilyFidelitySuite}. Nothing here needs an engine, so it runs once, here.
 */
class HfFixtureTest {
    static Stream<Named<HfFixture>> all() {
        return HfFixture.ALL.stream().map(f -> named(f.name(), f));
    }

    static Stream<Named<HfFixture>> notBuiltYet() {
        return all().filter(n -> !n.getPayload().headBuilt());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("all")
    void theFamilyBuildsTheDeclaredHeads(HfFixture f) {
        assertThat(f.family().supportedHeads().contains(f.head().kind()))
                .as("%s: %s lists %s among its heads (%s); set headBuilt to %s in HfFixture.ALL", f,
                        f.family().getClass().getSimpleName(), f.head().kind(), f.family().supportedHeads(),
                        !f.headBuilt())
                .isEqualTo(f.headBuilt());
    }

    /** When every head is built there is nothing left to refuse, and no case. */
    @ParameterizedTest(name = "{0}", allowZeroInvocations = true)
    @MethodSource("notBuiltYet")
    void aHeadNotBuiltYetIsRefusedNamingTheHeadAndTheFamily(HfFixture f) {
        try (PretrainedModel base = HfSources.folder(f.path()).open(Map.of())) {
            String origin = base.config().origin();
            assertThatThrownBy(() -> f.family().define(base.config(), f.head()),
                    "%s: %s built the %s head; flip the fixture to built in HfFixture.ALL so every engine checks"
                            + " its outputs", f, f.family().getClass().getSimpleName(), f.head().kind())
                    .isInstanceOf(UnsupportedArchitectureException.class)
                    .hasMessageContaining(f.head().kind().name())
                    .hasMessageContaining(origin)
                    // the fixture's path names the family too: the rest of the message must
                    .satisfies(e -> assertThat(letters(e.getMessage().replace(origin, "")))
                            .as("the message names the family").contains(letters(f.family().modelType())));
        }
    }

    /**
     * Windows the Llama family does not run are refused naming the key: Qwen's {@code
     * use_sliding_window} (windows from {@code max_window_layers} on) and a window below 1; Mistral's
     * {@code sliding_window} shorter than the positions is built (its logits: {@link FamilyFidelitySuite}).
     */
    @org.junit.jupiter.api.Test
    void slidingWindowsTheFamilyDoesNotRunAreRefusedNamingTheKey() {
        HfFixture qwen = HfFixture.named("qwen2-lm");
        try (PretrainedModel base = HfSources.folder(qwen.path()).open(
                Map.of("use_sliding_window", "true", "sliding_window", "4"))) {
            assertThatThrownBy(() -> qwen.family().define(base.config(), qwen.head()))
                    .isInstanceOf(UnsupportedArchitectureException.class).hasMessageContaining("'use_sliding_window'");
        }
        HfFixture mistral = HfFixture.named("mistral-lm");
        try (PretrainedModel base = HfSources.folder(mistral.path()).open(Map.of("sliding_window", "0"))) {
            assertThatThrownBy(() -> mistral.family().define(base.config(), mistral.head()))
                    .isInstanceOf(dev.attune.error.InvalidCheckpointException.class)
                    .hasMessageContaining("'sliding_window' 0");
        }
        try (PretrainedModel base = HfSources.folder(mistral.path()).open(Map.of("sliding_window", "4096"))) {
            assertThat(mistral.family().define(base.config(), mistral.head()).outputs()).contains("logits");
        }
    }

    /** @return lower-case letters and digits: GPT-2 as gpt2, DistilBERT as distilbert */
    private static String letters(String s) {
        return s.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "");
    }
}
