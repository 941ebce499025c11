package dev.attune.formats.hf;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import dev.attune.formats.hf.HubAccessDeniedException;
import dev.attune.formats.hf.HubException;
import dev.attune.formats.hf.ModelNotFoundException;
import dev.attune.formats.hf.HubOptions;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Downloads from {@link FakeHub}, a local server with the Hub's URL layout, into a temporary cache. */
class HubClientTest {
    private static final String SHARDED = "attune-test/bert-mini-uncased-mlm";
    private static final String SMALL = "attune-test/bert-seqcls";

    @TempDir Path cache;
    @TempDir Path elsewhere;
    private FakeHub hub;

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        hub.addFolder(SHARDED, SharedFiles.path("models/bert-mini-uncased-mlm"));
        hub.addFolder(SMALL, SharedFiles.path("fixtures/hf/bert-seqcls"));
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    private HubOptions options(String... env) {
        Map<String, String> vars = new HashMap<>();
        vars.put("HF_ENDPOINT", hub.endpoint());
        vars.put("ATTUNE_HUB_CACHE", cache.toString());
        for (int i = 0; i < env.length; i += 2) {
            vars.put(env[i], env[i + 1]);
        }
        return HubOptions.fromEnvironment(vars);
    }

    private static void assertSameBytes(Path downloaded, Path original) throws IOException {
        assertThat(Files.readAllBytes(downloaded)).as(downloaded.toString()).isEqualTo(Files.readAllBytes(original));
    }

    private Stream<Path> cacheFiles() throws IOException {
        return Files.walk(cache).filter(Files::isRegularFile);
    }

    @Test
    void downloadsShardedModelThatLoadsLikeTheLocalFolder() throws IOException {
        Path local = SharedFiles.path("models/bert-mini-uncased-mlm");
        Path snapshot = new HubClient(options()).download(SHARDED, "main");

        assertThat(snapshot).isEqualTo(cache.resolve("models--attune-test--bert-mini-uncased-mlm/snapshots/" + FakeHub.COMMIT));
        for (String name : List.of("config.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors",
                "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "tokenizer.json",
                "tokenizer_config.json", "vocab.txt")) {
            assertSameBytes(snapshot.resolve(name), local.resolve(name));
        }
        // files loading does not need stay on the server
        assertThat(snapshot.resolve("hf_trainer_reference.json")).doesNotExist();
        assertThat(snapshot.resolve("pretraining.json")).doesNotExist();
        assertThat(cache.resolve("models--attune-test--bert-mini-uncased-mlm/refs/main"))
                .hasContent(FakeHub.COMMIT);
        // weights came through the "CDN" redirect, the rest straight from the Hub
        assertThat(hub.requestsFor("model-00001-of-00003.safetensors")).extracting(FakeHub.Request::server)
                .containsExactly("hub", "cdn");
        assertThat(hub.requestsFor("config.json")).extracting(FakeHub.Request::server).containsExactly("hub");

        try (PretrainedModel fromHub = HfSources.hub(SHARDED, "main", options()).open(Map.of());
                PretrainedModel fromFolder = HfSources.folder(local).open(Map.of())) {
            assertThat(fromHub.config().toJson()).isEqualTo(fromFolder.config().toJson());
            assertThat(fromHub.weights().names()).isEqualTo(fromFolder.weights().names());
            for (String name : List.of("bert.embeddings.word_embeddings.weight",
                    "bert.encoder.layer.3.output.dense.weight")) {
                assertThat(fromHub.weights().read(name).toFloatArray())
                        .isEqualTo(fromFolder.weights().read(name).toFloatArray());
            }
            assertThat(fromHub.tokenizer().encode("The quick brown fox.", null, 32).ids())
                    .isEqualTo(fromFolder.tokenizer().encode("The quick brown fox.", null, 32).ids());
        }

        // a complete snapshot is not downloaded again: only the revision is asked for
        int before = hub.requests.size();
        assertThat(new HubClient(options()).download(SHARDED, "main")).isEqualTo(snapshot);
        assertThat(hub.requests.subList(before, hub.requests.size())).extracting(FakeHub.Request::path)
                .containsExactly("/api/models/" + SHARDED + "/revision/main");
    }

    @Test
    void resumesADownloadTheServerCutOff() throws IOException {
        hub.dropOnce.put("model.safetensors", 100_000);
        Path snapshot = new HubClient(options()).download(SMALL, "main");

        assertThat(hub.drops.get()).isEqualTo(1);
        assertSameBytes(snapshot.resolve("model.safetensors"), SharedFiles.path("fixtures/hf/bert-seqcls/model.safetensors"));
        List<FakeHub.Request> cdn = hub.requestsFor("model.safetensors").stream()
                .filter(r -> r.server().equals("cdn")).toList();
        assertThat(cdn).hasSize(2);
        assertThat(cdn.get(0).range()).isNull();
        // the second request asks only for what the first did not deliver
        assertThat(cdn.get(1).range()).matches("bytes=\\d+-");
        long resumedAt = Long.parseLong(cdn.get(1).range().replaceAll("\\D", ""));
        assertThat(resumedAt).isPositive().isLessThanOrEqualTo(100_000);
        assertThat(cacheFiles().filter(p -> p.toString().endsWith(".part"))).isEmpty();
    }

    @Test
    void resumesAcrossRunsFromThePartFile() throws IOException {
        hub.dropOnce.put("model.safetensors", 150_000);
        HubOptions noRetry = options().withMaxRetries(0);
        assertThatThrownBy(() -> new HubClient(noRetry).download(SMALL, "main"))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("model.safetensors")
                .hasMessageContaining("resumes");
        Path snapshot = cache.resolve("models--attune-test--bert-seqcls/snapshots/" + FakeHub.COMMIT);
        assertThat(snapshot.resolve("model.safetensors")).doesNotExist();
        assertThat(snapshot.resolve(HubClient.COMPLETE_MARKER)).doesNotExist();
        List<Path> parts = cacheFiles().filter(p -> p.toString().endsWith(".part")).toList();
        assertThat(parts).hasSize(1);
        long kept = Files.size(parts.get(0));
        assertThat(kept).isPositive().isLessThanOrEqualTo(150_000);

        new HubClient(noRetry).download(SMALL, "main");
        assertSameBytes(snapshot.resolve("model.safetensors"), SharedFiles.path("fixtures/hf/bert-seqcls/model.safetensors"));
        List<FakeHub.Request> cdn = hub.requestsFor("model.safetensors").stream()
                .filter(r -> r.server().equals("cdn")).toList();
        assertThat(cdn.get(cdn.size() - 1).range()).isEqualTo("bytes=" + kept + "-");
        assertThat(parts.get(0)).doesNotExist();
    }

    @Test
    void rejectsAWeightsFileWhoseSha256DiffersAndLeavesNothingLookingComplete() throws IOException {
        hub.corrupt.add("model.safetensors");
        assertThatThrownBy(() -> new HubClient(options()).download(SMALL, "main"))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("'model.safetensors' of model '" + SMALL + "' is corrupt")
                .hasMessageContaining("sha256");
        Path snapshot = cache.resolve("models--attune-test--bert-seqcls/snapshots/" + FakeHub.COMMIT);
        assertThat(snapshot.resolve("model.safetensors")).doesNotExist();
        assertThat(snapshot.resolve(HubClient.COMPLETE_MARKER)).doesNotExist();
        assertThat(cacheFiles().filter(p -> p.toString().endsWith(".part"))).isEmpty();
        // and offline, the half-finished snapshot is not taken for a model
        assertThatThrownBy(() -> new HubClient(options("HF_HUB_OFFLINE", "1")).download(SMALL, "main"))
                .isInstanceOf(HubException.class).hasMessageContaining("never completed");
    }

    @Test
    void rejectsASmallFileWhoseGitHashDiffers() throws IOException {
        hub.corrupt.add("config.json");
        assertThatThrownBy(() -> new HubClient(options()).download(SMALL, "main"))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("'config.json' of model '" + SMALL + "' is corrupt")
                .hasMessageContaining("git hash");
        assertThat(cacheFiles().map(p -> p.getFileName().toString())).doesNotContain("config.json");
    }

    @Test
    void gatedModelNeedsTheTokenAndTheTokenStaysOnTheHub() throws IOException {
        hub.requiredToken = "hf_secret_123";
        assertThatThrownBy(() -> new HubClient(options()).download(SMALL, "main"))
                .isInstanceOf(HubAccessDeniedException.class)
                .hasMessageContaining("'" + SMALL + "' is gated or private (HTTP 401")
                .hasMessageContaining("set HF_TOKEN");
        assertThatThrownBy(() -> new HubClient(options("HF_TOKEN", "wrong")).download(SMALL, "main"))
                .isInstanceOf(HubAccessDeniedException.class)
                .hasMessageContaining("refused the token in HF_TOKEN");

        hub.requests.clear();
        Path snapshot = new HubClient(options("HF_TOKEN", "hf_secret_123")).download(SMALL, "main");
        assertThat(snapshot.resolve("model.safetensors")).exists();
        assertThat(hub.requests).filteredOn(r -> r.server().equals("hub")).isNotEmpty()
                .allSatisfy(r -> assertThat(r.authorization()).isEqualTo("Bearer hf_secret_123"));
        // the redirect goes to another host: the token is not handed to it
        assertThat(hub.requests).filteredOn(r -> r.server().equals("cdn")).isNotEmpty()
                .allSatisfy(r -> assertThat(r.authorization()).isNull());
    }

    @Test
    void offlineModeUsesOnlyTheCache() throws IOException {
        assertThatThrownBy(() -> new HubClient(options("HF_HUB_OFFLINE", "1")).download(SMALL, "main"))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("offline mode is on")
                .hasMessageContaining("'" + SMALL + "' revision 'main' is not in the cache");
        assertThat(hub.requests).isEmpty();

        Path online = new HubClient(options()).download(SMALL, "main");
        int before = hub.requests.size();
        assertThat(new HubClient(options("HF_HUB_OFFLINE", "1")).download(SMALL, "main")).isEqualTo(online);
        assertThat(new HubClient(options().withOffline(true)).download(SMALL, FakeHub.COMMIT)).isEqualTo(online);
        try (PretrainedModel model = HfSources.hub(SMALL, null, options().withOffline(true)).open(Map.of())) {
            assertThat(model.config().modelType()).isEqualTo("bert");
        }
        assertThat(hub.requests).hasSize(before);

        Files.delete(online.resolve("tokenizer.json"));
        assertThatThrownBy(() -> new HubClient(options("HF_HUB_OFFLINE", "1")).download(SMALL, "main"))
                .isInstanceOf(HubException.class).hasMessageContaining("lacks [tokenizer.json]");
    }

    @Test
    void fallsBackToTheCacheWhenTheHubIsUnreachable() throws IOException {
        Path online = new HubClient(options()).download(SMALL, "main");
        String endpoint = hub.endpoint();
        hub.close();
        HubOptions down = options().withEndpoint(endpoint);
        assertThat(new HubClient(down).download(SMALL, "main")).isEqualTo(online);
        assertThatThrownBy(() -> new HubClient(down).download(SHARDED, "main"))
                .isInstanceOf(HubException.class)
                .hasMessageContaining("cannot connect")
                .hasMessageContaining("not in the cache");
    }

    @Test
    void refusesShardNamesThatEscapeTheCache() throws IOException {
        for (String evil : List.of("../../../escaped.safetensors", "/tmp/attune-escaped.safetensors",
                "sub/../../escaped.safetensors", "..\\escaped.safetensors")) {
            String id = "attune-test/evil";
            hub.put(id, "config.json", Files.readAllBytes(SharedFiles.path("fixtures/hf/bert-seqcls/config.json")));
            String index = "{\"metadata\":{},\"weight_map\":{\"a\":\"" + evil.replace("\\", "\\\\") + "\"}}";
            hub.put(id, "model.safetensors.index.json", index.getBytes(StandardCharsets.UTF_8));
            hub.put(id, evil, new byte[] {1, 2, 3});
            HubOptions options = options().withCacheDir(cache.resolve("c" + Math.abs(evil.hashCode())));
            assertThatThrownBy(() -> new HubClient(options).download(id, "main"))
                    .as(evil)
                    .isInstanceOf(HubException.class)
                    .hasMessageContaining("refusing file name '" + evil + "'");
        }
        assertThat(hub.requests).noneMatch(r -> r.path().contains("escaped"));
        assertThat(cache.getParent().resolve("escaped.safetensors")).doesNotExist();
        assertThat(Path.of("/tmp/attune-escaped.safetensors")).doesNotExist();
        try (Stream<Path> all = Files.walk(cache)) {
            assertThat(all.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains("escaped"));
        }
    }

    @Test
    void safeResolveKeepsNamesInsideTheFolder() {
        Path root = cache.resolve("snap");
        assertThat(HubClient.safeResolve(root, "a/b.json", "m")).isEqualTo(root.resolve("a/b.json").toAbsolutePath());
        for (String bad : List.of("", ".", "..", "../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "C:\\x",
                "a\\..\\..\\x", "x\0y", "a/")) {
            assertThatThrownBy(() -> HubClient.safeResolve(root, bad, "m")).as(bad).isInstanceOf(HubException.class);
        }
    }

    @Test
    void unknownModelsRevisionsAndIdsSayWhatIsWrong() {
        assertThatThrownBy(() -> new HubClient(options()).download("attune-test/no-such-model", "main"))
                .isInstanceOf(ModelNotFoundException.class)
                .hasMessageContaining("model 'attune-test/no-such-model' was not found on " + hub.endpoint());
        assertThatThrownBy(() -> new HubClient(options()).download(SMALL, "v9.9"))
                .isInstanceOf(ModelNotFoundException.class)
                .hasMessageContaining("has no revision 'v9.9'");
        assertThatThrownBy(() -> new HubClient(options()).download("../etc", "main"))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("not a HuggingFace model id");
        assertThatThrownBy(() -> new HubClient(options()).download(SMALL, "../../x"))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("not a valid revision");
        // a name that is neither a folder nor on the Hub says both
        assertThatThrownBy(() -> HfSources.of("attune-test/missing-folder", options()).open(Map.of()))
                .isInstanceOf(ModelNotFoundException.class)
                .hasMessageContaining("no local folder 'attune-test/missing-folder' exists");
    }

    @Test
    void modelSourceOfTellsFoldersFromHubIds() throws IOException {
        Path folder = Files.createDirectories(elsewhere.resolve("org/name"));
        assertThat(HfSources.of(folder.toString(), options()).describe()).isEqualTo(folder.toString());
        assertThat(HfSources.of("org/name", options()).describe()).isEqualTo("hf://org/name@main");
        assertThat(HfSources.of("org/name@v1.0", options()).describe()).isEqualTo("hf://org/name@v1.0");
        assertThat(HfSources.of("hf://" + SMALL + "@" + FakeHub.COMMIT, options()).describe())
                .isEqualTo("hf://" + SMALL + "@" + FakeHub.COMMIT);
        assertThat(HfSources.of("./not/here/at/all", options()).describe()).isEqualTo("./not/here/at/all");
        try (PretrainedModel m = HfSources.of("hf://" + SMALL, options()).open(Map.of("hidden_dropout_prob", "0"))) {
            assertThat(m.origin()).contains(FakeHub.COMMIT);
        }
    }

    @Test
    void environmentSettings() {
        HubOptions o = HubOptions.fromEnvironment(Map.of("HF_ENDPOINT", "https://mirror.example/", "HF_HUB_OFFLINE", "true",
                "HUGGING_FACE_HUB_TOKEN", "t", "ATTUNE_HUB_CACHE", "/data/hub"));
        assertThat(o.endpoint().toString()).isEqualTo("https://mirror.example");
        assertThat(o.offline()).isTrue();
        assertThat(o.token()).contains("t");
        assertThat(o.cacheDir()).isEqualTo(Path.of("/data/hub"));
        assertThat(o.toString()).doesNotContain("=t,");
        HubOptions d = HubOptions.fromEnvironment(Map.of());
        assertThat(d.endpoint().toString()).isEqualTo(HubOptions.DEFAULT_ENDPOINT);
        assertThat(d.offline()).isFalse();
        assertThat(d.token()).isEmpty();
        assertThat(d.cacheDir()).isEqualTo(Path.of(System.getProperty("user.home"), ".cache", "attune", "hub"));
        assertThatThrownBy(() -> HubOptions.fromEnvironment(Map.of("HF_HUB_OFFLINE", "maybe")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("HF_HUB_OFFLINE");
        assertThatThrownBy(() -> HubOptions.fromEnvironment(Map.of("HF_ENDPOINT", "ftp://x")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("HF_ENDPOINT");
    }
}
