package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.Attune;
import dev.attune.core.lora.LoraDefinition;
import dev.attune.core.train.AdamW;
import dev.attune.core.train.OptimizerSettings;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig.LoraConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Where a LoRA step's memory goes on libtorch: the frozen model carries no gradient and no optimizer
 * state (only the adapter and the head do), and the attention's score-sized temporaries are freed
 * while the forward pass runs instead of when it ends.
 */
class LoraMemoryTest {

    @Test
    void aLoraStepGivesGradientsAndOptimizerStateOnlyToWhatTrains() {
        try (Attune attune = Attune.builder().engine("pytorch").device(DeviceSpec.CPU).numThreads(2).build();
                PretrainedModel base = attune.load(FineTuneTest.FIXTURE)) {
            Task task = attune.task("text-classification", Map.of()).withLabels(List.of("neg", "pos"));
            LoraConfig lora = LoraConfig.builder().r(2).loraAlpha(4).targetModules(LoraConfig.ALL_LINEAR).build();
            try (FineTunedModel m = attune.prepare(base, task, 16, 42, lora)) {
                LoraDefinition adapter = LoraDefinition.find(m.lowered().definition()).orElseThrow();
                Set<String> trainable = adapter.adapter().trainable();
                Set<String> frozen = new LinkedHashSet<>();
                long frozenSize = 0;
                for (Parameter p : m.lowered().definition().parameters().all()) {
                    if (!trainable.contains(p.name())) {
                        frozen.add(p.name());
                        frozenSize += p.size();
                    }
                }
                assertThat(frozenSize).as("the frozen model is most of the parameters").isGreaterThan(10_000);
                PtLoweredModel lowered = (PtLoweredModel) m.lowered();
                try (AdamW optimizer = new AdamW(lowered, new OptimizerSettings(0.9, 0.999, 1e-8, 0.01, 1.0, frozen))) {
                    assertThat(names(optimizer.session().parameters())).containsExactlyInAnyOrderElementsOf(trainable);
                    optimizer.session().forwardBackward(batch(m), 1f);
                    List<String> withGradient = new ArrayList<>();
                    for (Parameter p : lowered.definition().parameters().all()) {
                        PtNDArray value = lowered.value(p);
                        PtNDArray g = JniUtils.getGradient(value);
                        if (g != null) {
                            withGradient.add(p.name());
                            g.close();
                        }
                        if (frozen.contains(p.name())) {
                            assertThat(JniUtils.requiresGrad(value)).as("frozen %s requires a gradient", p.name()).isFalse();
                        }
                    }
                    // every adapter matrix and the head got a gradient; no frozen weight has a gradient buffer
                    assertThat(withGradient).containsExactlyInAnyOrderElementsOf(trainable);
                    // AdamW's moments: two per trained tensor, none for the frozen model
                    Set<String> slotted = new LinkedHashSet<>();
                    long slotFloats = 0;
                    for (Map.Entry<String, TensorData> e : optimizer.session().slots().entrySet()) {
                        slotted.add(e.getKey().substring(e.getKey().indexOf('/') + 1));
                        slotFloats += e.getValue().toFloatArray().length;
                    }
                    assertThat(slotted).containsExactlyInAnyOrderElementsOf(trainable);
                    long trainableSize = 0;
                    for (Parameter p : optimizer.session().parameters()) {
                        trainableSize += p.size();
                    }
                    assertThat(slotFloats).isEqualTo(2 * trainableSize);
                    optimizer.step(1e-3);
                    for (Parameter p : lowered.definition().parameters().all()) {
                        assertThat(JniUtils.getGradient(lowered.value(p))).as("%s after the step", p.name()).isNull();
                    }
                }
            }
        }
    }

    /** Eager ops that remember every result they made and which of those the caller released. */
    private static final class Recording extends EagerOps {
        final List<PtNDArray> made = new ArrayList<>();
        final Set<PtNDArray> released = Collections.newSetFromMap(new IdentityHashMap<>());

        Recording(PtNDManager step) {
            super(step, p -> {
                throw new AssertionError("no parameters here");
            }, true);
        }

        final List<Shape> shapes = new ArrayList<>();

        @Override
        T own(PtNDArray r) {
            made.add(r);
            shapes.add(r.getShape());
            return super.own(r);
        }

        @Override
        public void release(Tensor x) {
            released.add(a(x));
            super.release(x);
        }
    }

    @Test
    void trainingAttentionFreesItsScoreSizedTemporariesBeforeItReturns() {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try (PtNDManager root = (PtNDManager) ai.djl.ndarray.NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
                PtNDManager step = (PtNDManager) root.newSubManager()) {
            Shape qShape = new Shape(2, 3, 5, 4);
            PtNDArray[] qkv = new PtNDArray[3];
            for (int i = 0; i < 3; i++) {
                qkv[i] = (PtNDArray) step.randomNormal(qShape);
                JniUtils.attachGradient(qkv[i], true);
            }
            PtNDArray bias = (PtNDArray) step.zeros(new Shape(2, 1, 1, 5));
            Recording ops = new Recording(step);
            Tensor out = ops.attention(ops.wrap(qkv[0]), ops.wrap(qkv[1]), ops.wrap(qkv[2]), ops.wrap(bias), 0.5f, 0.1f);
            List<PtNDArray> scoreSized = new ArrayList<>();
            for (int i = 0; i < ops.made.size(); i++) {
                if (ops.shapes.get(i).equals(new Shape(2, 3, 5, 5))) {
                    scoreSized.add(ops.made.get(i));
                }
            }
            // scores, scaled, masked, probabilities, dropped out (dropout's boolean mask is closed inside it:
            // only autograd keeps it)
            assertThat(scoreSized.size()).isGreaterThanOrEqualTo(5);
            List<PtNDArray> open = new ArrayList<>();
            for (PtNDArray r : scoreSized) {
                if (!r.isReleased()) {
                    open.add(r);
                } else {
                    assertThat(ops.released.contains(r)).as("closed by the attention's release").isTrue();
                }
            }
            // the raw, scaled and masked scores, the probabilities and the dropped-out probabilities were
            // released by the attention itself
            assertThat(open).as("[B, heads, T, T] tensors that outlived the attention call").isEmpty();
            PtNDArray y = EagerOps.a(out);
            assertThat(y.isReleased()).isFalse();
            // what autograd saved is still there: the gradients flow as before
            JniUtils.backward((PtNDArray) y.sum(), (PtNDArray) step.ones(new Shape()), false, false);
            for (PtNDArray x : qkv) {
                PtNDArray g = JniUtils.getGradient(x);
                assertThat(g).isNotNull();
                assertThat(g.getShape()).isEqualTo(qShape);
                assertThat(g.abs().sum().getFloat()).isGreaterThan(0f);
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    private static List<String> names(List<Parameter> ps) {
        List<String> out = new ArrayList<>();
        ps.forEach(p -> out.add(p.name()));
        return out;
    }

    private static Batch batch(FineTunedModel m) {
        long[] ids = m.tokenizer().encode("a short text to train on", null, 16).ids();
        long[] shape = {2, ids.length};
        long[] both = new long[2 * ids.length];
        System.arraycopy(ids, 0, both, 0, ids.length);
        System.arraycopy(ids, 0, both, ids.length, ids.length);
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(shape, both));
        inputs.put("labels", TensorData.ofLongs(new long[] {2}, new long[] {0, 1}));
        return new Batch(inputs, 2);
    }
}
