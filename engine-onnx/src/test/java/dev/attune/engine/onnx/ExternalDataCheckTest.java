package dev.attune.engine.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.engine.EngineOptions;
import dev.attune.engine.onnx.proto.OnnxProto.AttributeProto;
import dev.attune.engine.onnx.proto.OnnxProto.GraphProto;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.engine.onnx.proto.OnnxProto.NodeProto;
import dev.attune.engine.onnx.proto.OnnxProto.StringStringEntryProto;
import dev.attune.engine.onnx.proto.OnnxProto.TensorProto;
import dev.attune.error.InvalidCheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX external data must stay in the model's folder: locations that climb out ({@code ..}), are
 * absolute, or pass through a link that leads out are refused before ONNX Runtime or the weight
 * reader opens anything, wherever the tensor sits (initializer, Constant attribute, subgraph).
 */
class ExternalDataCheckTest {
    @TempDir Path tmp;

    private static TensorProto external(String name, String location) {
        return TensorProto.newBuilder().setName(name).setDataType(1).addDims(2)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue("8"))
                .setDataLocation(TensorProto.DataLocation.EXTERNAL).build();
    }

    /** Writes model.onnx into a fresh folder with a tensor placed by {@code place}. */
    private Path model(String folder, Function<TensorProto, GraphProto> place, String location) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(folder));
        Files.write(dir.resolve("model.onnx_data"), new byte[8]);
        Path file = dir.resolve("model.onnx");
        Files.write(file, ModelProto.newBuilder().setIrVersion(8).setGraph(place.apply(external("w", location)))
                .build().toByteArray());
        return file;
    }

    private static GraphProto asInitializer(TensorProto t) {
        return GraphProto.newBuilder().setName("g").addInitializer(t).build();
    }

    private static GraphProto asConstantInSubgraph(TensorProto t) {
        NodeProto constant = NodeProto.newBuilder().setOpType("Constant").addOutput("c")
                .addAttribute(AttributeProto.newBuilder().setName("value").setT(t)).build();
        GraphProto branch = GraphProto.newBuilder().setName("then").addNode(constant).build();
        NodeProto iff = NodeProto.newBuilder().setOpType("If").addInput("cond").addOutput("c")
                .addAttribute(AttributeProto.newBuilder().setName("then_branch").setG(branch)).build();
        return GraphProto.newBuilder().setName("g").addNode(iff).build();
    }

    @Test
    void locationsOutsideTheFolderAreRefusedWhereverTheTensorIs() throws IOException {
        Path secret = Files.write(tmp.resolve("secret.bin"), new byte[64]);
        Path linkFolder = Files.createDirectories(tmp.resolve("linked"));
        Files.createSymbolicLink(linkFolder.resolve("data.bin"), secret);
        String[] hostile = {"../secret.bin", secret.toString(), "sub/../../secret.bin", "", ".", "..\\secret.bin"};
        int i = 0;
        for (String location : hostile) {
            for (Function<TensorProto, GraphProto> place : java.util.List.<Function<TensorProto, GraphProto>>of(
                    ExternalDataCheckTest::asInitializer, ExternalDataCheckTest::asConstantInSubgraph)) {
                Path file = model("m" + i++, place, location);
                assertThatThrownBy(() -> ExternalDataCheck.check(file)).as(location)
                        .isInstanceOf(InvalidCheckpointException.class)
                        .hasMessageContaining(file.toString()).hasMessageContaining("tensor 'w'")
                        .hasMessageContaining("'" + location + "'");
            }
        }
        Files.write(linkFolder.resolve("model.onnx"), ModelProto.newBuilder().setGraph(asInitializer(
                external("w", "data.bin"))).build().toByteArray());
        assertThatThrownBy(() -> ExternalDataCheck.check(linkFolder.resolve("model.onnx")))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("links out of the folder");

        // inside the folder is fine, and the check runs before ONNX Runtime and the weight reader
        assertThatCode(() -> ExternalDataCheck.check(model("ok", ExternalDataCheckTest::asInitializer,
                "model.onnx_data"))).doesNotThrowAnyException();
        Path bad = model("load", ExternalDataCheckTest::asInitializer, "../secret.bin");
        assertThatThrownBy(() -> OnnxModels.load(bad, EngineOptions.defaults()))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("'../secret.bin'");
        assertThatThrownBy(() -> new OnnxWeights(bad).read("w"))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("'../secret.bin'");
        assertThat(secret).hasSize(64);
    }
}
