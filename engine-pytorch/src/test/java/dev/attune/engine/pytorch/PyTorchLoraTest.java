package dev.attune.engine.pytorch;

import dev.attune.testing.LoraSuite;
import dev.attune.testing.Tolerance;

/** LoRA adapters in PEFT's format on the PyTorch engine: PEFT's logits within 1e-5. */
class PyTorchLoraTest extends LoraSuite {
    @Override
    protected String engineName() {
        return "pytorch";
    }

    @Override
    protected Tolerance logitsTolerance() {
        return Tolerance.absolute(1e-5);
    }
}
