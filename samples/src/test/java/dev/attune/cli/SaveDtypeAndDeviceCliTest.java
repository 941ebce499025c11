package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.testing.SharedFiles;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line's {@code --save-dtype} (export and fine-tune) and its device errors: a bad value is
 * refused before anything is written or trained, and {@code --device gpu} on a machine without an NVIDIA
 * GPU says what to do instead of falling back silently.
 */
class SaveDtypeAndDeviceCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static String firstDtype(Path safetensors) throws Exception {
        byte[] b = Files.readAllBytes(safetensors);
        long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return JSON.readTree(new String(b, 8, (int) n, StandardCharsets.UTF_8)).get("bert.pooler.dense.weight")
                .get("dtype").asText();
    }

    @Test
    void exportAsHfInBfloat16() throws Exception {
        Path out = tmp.resolve("bf16");
        CliTest.run("export", "--format", "hf", "--save-dtype", "bf16", "--model",
                SharedFiles.path("fixtures/hf/bert-seqcls").toString(), "--output", out.toString());
        assertThat(firstDtype(out.resolve("model.safetensors"))).isEqualTo("BF16");
        assertThat(JSON.readTree(out.resolve("config.json").toFile()).get("dtype").asText()).isEqualTo("bfloat16");
    }

    @Test
    void badSaveDtypesAreRefusedBeforeAnythingIsWritten() {
        String model = SharedFiles.path("fixtures/hf/bert-seqcls").toString();
        assertThat(CliTest.runRefused("export", "--format", "onnx", "--save-dtype", "bf16", "--model", model,
                "--output", tmp.resolve("onnx").toString())).contains("--save-dtype").contains("--format hf");
        assertThat(CliTest.runRefused("export", "--format", "hf", "--save-dtype", "int8", "--model", model,
                "--output", tmp.resolve("int8").toString())).contains("int8").contains("bf16");
        assertThat(tmp.resolve("int8")).doesNotExist();
    }

    @Test
    void fineTuneRefusesABadSaveDtypeBeforeTraining() throws Exception {
        Path data = Files.writeString(tmp.resolve("d.tsv"), "sentence\tlabel\ngood\t1\nbad\t0\n");
        String err = CliTest.runRefused("fine-tune", "--model", SharedFiles.path("fixtures/hf/bert-seqcls").toString(),
                "--train", data.toString(), "--output", tmp.resolve("out").toString(), "--save-dtype", "fp8",
                "--no-progress");
        assertThat(err).contains("fp8").contains("fp32");
        assertThat(tmp.resolve("out").resolve("trainer_log.jsonl")).doesNotExist();
    }

    @Test
    void aGpuThatIsNotThereIsATypedErrorNamingTheWayOut() throws Exception {
        if (Files.exists(Path.of("/proc/driver/nvidia/version"))) {
            return; // a machine with an NVIDIA driver gets CUDA libtorch instead (NativeSelectionTest covers the rule)
        }
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"text\": \"hello\"}\n");
        String err = CliTest.runRefused("logits", "--device", "gpu", "--model",
                SharedFiles.path("fixtures/hf/bert-seqcls").toString(), "--input", input.toString());
        assertThat(err).contains("--device gpu").contains("no NVIDIA GPU").contains("--device cpu");
    }
}
