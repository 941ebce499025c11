package dev.attune.engine.tensorflow;

import dev.attune.testing.LoraSuite;
import dev.attune.testing.Tolerance;

/** LoRA adapters in PEFT's format on the TensorFlow engine: PEFT's logits within 1e-4. */
class TensorFlowLoraTest extends LoraSuite {
    @Override
    protected String engineName() {
        return "tensorflow";
    }

    @Override
    protected Tolerance logitsTolerance() {
        return Tolerance.absolute(1e-4);
    }
}
