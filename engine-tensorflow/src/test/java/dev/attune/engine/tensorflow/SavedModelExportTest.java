package dev.attune.engine.tensorflow;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model fine-tuned on TensorFlow saves as a SavedModel with the serving signature (input_word_ids,
 * input_mask, input_type_ids -> logits) that DJL's TensorFlow engine loads through its common
 * predictor API and that gives the logits the trained model gives.
 */
class SavedModelExportTest {
    @TempDir
    Path tmp;

    @Test
    void fineTunedModelExportsAndServesTheSameLogitsThroughDjl() throws Exception {
        Path exported = tmp.resolve("saved_model");
        Path data = TrainingParityTest.spamData(tmp, "train.tsv", 16, 5);
        List<float[]> expected = new ArrayList<>();
        List<Features> features;
        try (Attune attune = Attune.builder().engine("tensorflow").device(DeviceSpec.CPU).build()) {
            Task task = attune.task("text-classification", Map.of());
            Dataset train = task.read(data);
            TrainingConfig config = TrainingConfig.builder().learningRate(1e-3).maxSteps(2).perDeviceTrainBatchSize(8)
                    .maxLength(16).disableTqdm(true).evalStrategy(EvalStrategy.NO).outputDir(tmp.resolve("run")).build();
            try (PretrainedModel base = attune.load(HfSources.folder(SharedFiles.path("fixtures/hf/bert-seqcls")),
                    Map.of());
                    FineTunedModel model = attune.fineTune(base, task, train, null, config).model()) {
                features = model.encode(train, 16);
                model.run(features, 16, 16, (f, o) -> expected.add(o.get("logits")));
                SavedModelExporter.export(model, exported);
            }
        }
        assertThat(exported.resolve("saved_model.pb")).exists();
        assertThat(exported.resolve("variables").resolve("variables.index")).exists();
        assertThat(Files.list(exported.resolve("assets")).map(p -> p.getFileName().toString()).toList())
                .contains("tokenizer.json");

        Criteria<NDList, NDList> criteria = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optModelPath(exported).optEngine("TensorFlow").build();
        double worst = 0;
        try (ZooModel<NDList, NDList> model = criteria.loadModel();
                Predictor<NDList, NDList> predictor = model.newPredictor();
                NDManager manager = NDManager.newBaseManager("TensorFlow")) {
            int b = features.size();
            int t = 16;
            int[] ids = new int[b * t];
            int[] mask = new int[b * t];
            int[] types = new int[b * t];
            for (int i = 0; i < b; i++) {
                long[] fi = features.get(i).fields().get("input_ids");
                long[] fm = features.get(i).fields().get("attention_mask");
                for (int j = 0; j < Math.min(t, fi.length); j++) {
                    ids[i * t + j] = (int) fi[j];
                    mask[i * t + j] = (int) fm[j];
                }
            }
            NDArray a = manager.create(ids, new Shape(b, t));
            a.setName("input_word_ids");
            NDArray m = manager.create(mask, new Shape(b, t));
            m.setName("input_mask");
            NDArray ty = manager.create(types, new Shape(b, t));
            ty.setName("input_type_ids");
            NDList out = predictor.predict(new NDList(a, m, ty));
            NDArray logits = out.get("logits") != null ? out.get("logits") : out.get(0);
            float[] got = logits.toFloatArray();
            assertThat(logits.getShape().getShape()).containsExactly(b, 2);
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < 2; j++) {
                    worst = Math.max(worst, Math.abs(got[i * 2 + j] - expected.get(i)[j]));
                }
            }
        }
        System.out.printf("SavedModel via DJL: max |logit - trained model| = %.3g%n", worst);
        assertThat(worst).isLessThanOrEqualTo(1e-5);
    }
}
