package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code attune generate} and {@code attune fine-tune --task seq2seq} with the fixture T5, and T5 on
 * ONNX: {@code attune export --format onnx} writes an encoder graph and decoder graphs (as Optimum
 * does), and {@code attune generate --engine onnx} gives PyTorch's greedy ids.
 */
class Seq2SeqCliTest {
    static final Path T5 = SharedFiles.path("fixtures/hf/t5-seq2seq");

    @TempDir
    Path tmp;

    @Test
    void generatePrintsHuggingFaceGreedyIdsAndRunsBeamSearch() throws Exception {
        JsonNode c = new ObjectMapper().readTree(T5.resolve("reference.json").toFile()).get("cases").get(0);
        JsonNode greedy = c.get("greedy_ids");
        String maxNew = Integer.toString(greedy.size() - 1);
        String[] lines = CliTest.run("generate", "--model", T5.toString(), "--prompt", c.get("text").asText(), "--greedy",
                "--max-new-tokens", maxNew, "--print-ids", "--device", "cpu").strip().split("\\R");
        assertThat(new ObjectMapper().readTree(lines[lines.length - 1])).isEqualTo(greedy);

        String[] beam = CliTest.run("generate", "--model", T5.toString(), "--prompt", c.get("text").asText(),
                "--num-beams", "3", "--length-penalty", "0.8", "--early-stopping", "true", "--max-new-tokens", maxNew,
                "--print-ids", "--device", "cpu").strip().split("\\R");
        JsonNode ids = new ObjectMapper().readTree(beam[beam.length - 1]);
        assertThat(ids.get(0).asInt()).isZero(); // decoder_start_token_id
        assertThat(ids.size()).isBetween(2, greedy.size());
    }

    @Test
    void fineTunesWithTheSeq2SeqTaskAndReportsBleuAndRouge() throws Exception {
        Path train = Files.writeString(tmp.resolve("train.tsv"),
                "en\tde\nThe house is wonderful.\tDas Haus ist wunderbar.\nthe quick brown fox\tder schnelle Fuchs\n");
        Path out = tmp.resolve("run");
        CliTest.run("fine-tune", "--task", "seq2seq", "--model", T5.toString(), "--train", train.toString(),
                "--eval", train.toString(), "--task-option", "source_column=en", "--task-option", "target_column=de",
                "--task-option", "prefix=translate English to German: ", "--task-option", "max_new_tokens=6",
                "--max-steps", "2", "--batch-size", "2", "--learning-rate", "1e-3", "--output", out.toString(),
                "--no-progress", "--device", "cpu");
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertThat(metrics.get("global_steps").asInt()).isEqualTo(2);
        assertThat(metrics.has("eval_bleu")).isTrue();
        assertThat(metrics.get("eval_rougeL").asDouble()).isBetween(0.0, 1.0);
        assertThat(metrics.get("eval_gen_len").asDouble()).isBetween(1.0, 6.0);
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("T5ForConditionalGeneration");
        assertThat(config.get("attune").get("task").asText()).isEqualTo("seq2seq");
        assertThat(out.resolve("model.safetensors")).exists();
    }

    @Test
    void generateOnTheOnnxEngineGivesPyTorchsAndHuggingFacesGreedyIds() throws Exception {
        JsonNode cases = new ObjectMapper().readTree(T5.resolve("reference.json").toFile()).get("cases");
        for (JsonNode c : cases) {
            String maxNew = Integer.toString(c.get("greedy_ids").size() - 1);
            JsonNode onnx = lastLineIds(CliTest.run("generate", "--engine", "onnx", "--model", T5.toString(), "--prompt",
                    c.get("text").asText(), "--greedy", "--max-new-tokens", maxNew, "--print-ids", "--device", "cpu"));
            JsonNode pytorch = lastLineIds(CliTest.run("generate", "--engine", "pytorch", "--model", T5.toString(),
                    "--prompt", c.get("text").asText(), "--greedy", "--max-new-tokens", maxNew, "--print-ids", "--device",
                    "cpu"));
            assertThat(onnx).as(c.get("text").asText()).isEqualTo(pytorch).isEqualTo(c.get("greedy_ids"));
        }
    }

    /**
     * A T5 whose head size {@code d_kv} (6) is not {@code d_model / num_heads} (8), with random weights
     * this test writes: the export declares past keys and values [batch, 4, length, 6], and the
     * exported folder generates on ONNX Runtime the greedy ids PyTorch generates from the checkpoint.
     */
    @Test
    void exportWritesEncoderAndDecoderGraphsWithDkvHeadsThatGenerateAsPyTorchDoes() throws Exception {
        Path checkpoint = Files.createDirectories(tmp.resolve("t5-dkv"));
        ObjectMapper json = new ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode config =
                (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(T5.resolve("config.json").toFile());
        config.put("d_kv", 6);
        Files.writeString(checkpoint.resolve("config.json"), json.writeValueAsString(config));
        for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(T5.resolve(file), checkpoint.resolve(file));
        }
        dev.attune.model.ModelDefinition def = new dev.attune.models.T5().define(
                dev.attune.model.ModelConfig.parse(json.writeValueAsString(config), "t5-dkv"),
                new dev.attune.model.HeadSpec(dev.attune.model.HeadSpec.HeadKind.SEQ2SEQ_LM, 0));
        java.util.Random random = new java.util.Random(11);
        java.util.Map<String, dev.attune.ops.TensorData> weights = new java.util.LinkedHashMap<>();
        for (dev.attune.ops.Parameter p : def.parameters().all()) {
            float[] v = new float[Math.toIntExact(dev.attune.ops.TensorData.elementCount(p.shape()))];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (random.nextGaussian() * 0.5);
            }
            weights.put(p.name(), dev.attune.ops.TensorData.ofFloats(p.shape(), v));
        }
        dev.attune.formats.hf.SafetensorsWriter.write(checkpoint.resolve("model.safetensors"), weights);

        Path exported = tmp.resolve("t5-onnx");
        CliTest.run("export", "--format", "onnx", "--model", checkpoint.toString(), "--output", exported.toString(),
                "--device", "cpu");
        assertThat(exported.resolve("model.onnx")).doesNotExist();
        for (String file : new String[] {"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"}) {
            assertThat(exported.resolve(file)).isRegularFile();
        }
        var withPast = dev.attune.engine.onnx.proto.OnnxProto.ModelProto.parseFrom(
                Files.readAllBytes(exported.resolve("decoder_with_past_model.onnx")));
        int pasts = 0;
        for (var input : withPast.getGraph().getInputList()) {
            if (input.getName().startsWith("past_key_values.")) {
                var dims = input.getType().getTensorType().getShape().getDimList();
                assertThat(dims.get(1).getDimValue()).as(input.getName() + " heads").isEqualTo(4);
                assertThat(dims.get(3).getDimValue()).as(input.getName() + " head size (d_kv)").isEqualTo(6);
                pasts++;
            }
        }
        assertThat(pasts).as("past key and value inputs, self- and cross-attention, per layer")
                .isEqualTo(4 * config.get("num_decoder_layers").asInt(config.get("num_layers").asInt()));

        String prompt = "translate English to German: The house is wonderful.";
        JsonNode pytorch = lastLineIds(CliTest.run("generate", "--engine", "pytorch", "--model", checkpoint.toString(),
                "--prompt", prompt, "--greedy", "--max-new-tokens", "8", "--print-ids", "--device", "cpu"));
        JsonNode onnx = lastLineIds(CliTest.run("generate", "--engine", "onnx", "--model", exported.toString(),
                "--prompt", prompt, "--greedy", "--max-new-tokens", "8", "--print-ids", "--device", "cpu"));
        assertThat(onnx).isEqualTo(pytorch);
        java.util.Set<Integer> distinct = new java.util.HashSet<>();
        pytorch.forEach(n -> distinct.add(n.asInt()));
        assertThat(distinct).as("a sequence that tells decoders apart: %s", pytorch).hasSizeGreaterThan(2);
    }

    private static JsonNode lastLineIds(String out) throws Exception {
        String[] lines = out.strip().split("\\R");
        return new ObjectMapper().readTree(lines[lines.length - 1]);
    }
}
